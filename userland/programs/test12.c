/* MINIX test12: fork, exit and wait 1,000 times.  Each child exits at once
 * with its own code, so every wait must return that child with that code;
 * anything fork or exit leaks adds up over the rounds.
 */
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define ROUNDS 1000

int main(void)
{
	int i, status;
	pid_t pid;

	printf("test12: %d times fork, exit(i & 0xFF), wait\n", ROUNDS);
	for (i = 0; i < ROUNDS; i++) {
		pid = fork();
		check(pid >= 0);
		if (pid == 0)
			_exit(i & 0xFF);
		check_eq(wait(&status), pid);
		check(WIFEXITED(status));
		check_eq(WEXITSTATUS(status), i & 0xFF);
	}
	check(wait(&status) == -1 && errno == ECHILD);
	printf("test12 ok\n");
	return 0;
}
