/* MINIX test1 (part a) and its relatives: several children with different
 * exit codes, collected by pid in the reverse order of their birth; the
 * parent a child sees; kill of a running child; errors for pids that are
 * not children.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define CHILDREN 4

static void exit_codes(void)
{
	pid_t pids[CHILDREN], parent = getpid();
	int i, status;

	printf("test1a: %d children exit with 100 + i, waitpid on each\n", CHILDREN);
	for (i = 0; i < CHILDREN; i++) {
		pids[i] = fork();
		check(pids[i] >= 0);
		if (pids[i] == 0)
			_exit(getppid() == parent ? 100 + i : 1);
		check(pids[i] != parent);
	}
	for (i = CHILDREN - 1; i >= 0; i--) {
		check_eq(waitpid(pids[i], &status, 0), pids[i]);
		check(WIFEXITED(status));
		check_eq(WEXITSTATUS(status), 100 + i);
	}
	check(wait(&status) == -1 && errno == ECHILD);
	check(waitpid(pids[0], &status, 0) == -1 && errno == ECHILD);
}

/* The child never makes a call: only preemption lets the parent run. */
static void kill_running_child(void)
{
	pid_t pid;
	int status;

	printf("test1a: kill(child, SIGKILL) while it spins\n");
	pid = fork();
	check(pid >= 0);
	if (pid == 0)
		for (;;)
			;
	check_eq(kill(pid, SIGKILL), 0);
	check_eq(waitpid(pid, &status, 0), pid);
	check(WIFSIGNALED(status));
	check_eq(WTERMSIG(status), SIGKILL);
	check(kill(pid, SIGKILL) == -1 && errno == ESRCH);
}

int main(void)
{
	check(getpid() > 0);
	exit_codes();
	kill_running_child();
	printf("test1a ok\n");
	return 0;
}
