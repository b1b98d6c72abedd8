/* The IPC trap's own errors, seen in eax without libc in between: a user
 * process may only SENDREC (anything else is ETRAPDENIED, -110), and a
 * message the kernel cannot copy is EFAULT (-14).  ebx must survive the
 * trap, and the process must go on working afterwards.
 */
#include <lib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static int trap(int call, endpoint_t who, message *m)
{
	message *ebx = m;
	int eax = who;

	__asm__ volatile("int $0x21" : "+a"(eax), "+b"(ebx), "+c"(call) : : "memory");
	check(ebx == m);
	return eax;
}

int main(void)
{
	static const int denied[] = { SEND, RECEIVE, NOTIFY, SENDNB, 99 };
	message m;
	unsigned int i;

	memset(&m, 0, sizeof(m));
	m.m_type = MINIX_GETPID;
	for (i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		printf("trapdenied: ecx = %d to PM\n", denied[i]);
		check_eq(trap(denied[i], PM_PROC_NR, &m), -ETRAPDENIED);
	}
	printf("trapdenied: SENDREC with the message at 0 and at 0xF0000000\n");
	check_eq(trap(SENDREC, PM_PROC_NR, NULL), -EFAULT);
	check_eq(trap(SENDREC, PM_PROC_NR, (message *)0xF0000000), -EFAULT);
	printf("trapdenied: SENDREC GETPID still works\n");
	check_eq(trap(SENDREC, PM_PROC_NR, &m), 0);
	check_eq(m.m_type, getpid());
	printf("trapdenied ok\n");
	return 0;
}
