/* The first half of an exec chain: a failing exec leaves this program
 * running with its break as it was; then exec /bin/execprint with
 * arguments and an environment, which it prints.
 */
#include <unistd.h>

#include "check.h"

int main(void)
{
	static char *const argv[] = { "execprint", "one", "two", NULL };
	static char *const envp[] = { "FOO=bar", NULL };
	char *brk_before = sbrk(0);

	printf("execchain: exec of a missing file fails and returns\n");
	check(execve("/bin/no-such-program", argv, envp) == -1);
	printf("execchain: errno %d\n", errno);
	check(sbrk(0) == brk_before);

	printf("execchain: exec /bin/execprint one two, FOO=bar\n");
	execve("/bin/execprint", argv, envp);
	check(!"execve(/bin/execprint) returned");
	return 1;
}
