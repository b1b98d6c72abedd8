/* Wild accesses kill with SIGSEGV: a child stores to a string literal in
 * .rodata, to its own .text, to kernel memory at 0x00100000 (mapped, but
 * supervisor-only), and loads from an address nothing maps.  The parent
 * checks each child died of signal 11 rather than exiting.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static const char literal[] = "a string literal in .rodata";

static void store_rodata(void)
{
	*(volatile char *)literal = 'X';
}

static void store_text(void)
{
	*(volatile char *)store_text = 0;
}

static void store_kernel(void)
{
	*(volatile int *)0x00100000 = 1;
}

static void load_unmapped(void)
{
	(void)*(volatile int *)0x40000000;
}

static const struct {
	const char *what;
	void (*fault)(void);
} cases[] = {
	{ "store to .rodata", store_rodata },
	{ "store to .text", store_text },
	{ "store to a kernel address (0x00100000)", store_kernel },
	{ "load from an unmapped address (0x40000000)", load_unmapped },
};

int main(void)
{
	unsigned int i;
	int status;
	pid_t pid;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		printf("segv: child: %s\n", cases[i].what);
		pid = fork();
		check(pid >= 0);
		if (pid == 0) {
			cases[i].fault();
			_exit(1);	/* survived the access */
		}
		check_eq(waitpid(pid, &status, 0), pid);
		check(WIFSIGNALED(status));
		check_eq(WTERMSIG(status), SIGSEGV);
	}
	printf("segv ok\n");
	return 0;
}
