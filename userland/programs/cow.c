/* Copy-on-write after fork: parent and child start with the same values in
 * .data, .bss, the heap and the stack, then each writes its own and must
 * keep seeing only its own.  The child reports what it saw in its exit code.
 */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* volatile: across getpid() gcc could keep them in registers. */
static volatile int in_data = 1;
static volatile int in_bss;

/* Write v everywhere, let the other process run, and check v is still there. */
static int write_and_check(int v, int *on_heap, volatile int *on_stack)
{
	int i;

	in_data = v;
	in_bss = v;
	*on_heap = v;
	*on_stack = v;
	for (i = 0; i < 10; i++)
		getpid();	/* a call: the other process gets to run */
	return in_data == v && in_bss == v && *on_heap == v && *on_stack == v;
}

int main(void)
{
	volatile int on_stack = 1;
	int *on_heap = malloc(sizeof(int));
	int status;
	pid_t pid;

	check(on_heap != NULL);
	*on_heap = 1;
	in_bss = 1;
	printf("cow: fork; parent writes 3, child writes 2, each checks its own\n");
	pid = fork();
	check(pid >= 0);
	if (pid == 0) {
		if (in_data != 1 || in_bss != 1 || *on_heap != 1 || on_stack != 1)
			_exit(1);	/* the child must start with the parent's values */
		_exit(write_and_check(2, on_heap, &on_stack) ? 2 : 1);
	}
	check(write_and_check(3, on_heap, &on_stack));
	check_eq(waitpid(pid, &status, 0), pid);
	check(WIFEXITED(status));
	check_eq(WEXITSTATUS(status), 2);
	check(in_data == 3 && in_bss == 3 && *on_heap == 3 && on_stack == 3);
	printf("cow ok\n");
	return 0;
}
