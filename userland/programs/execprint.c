/* The second half of the exec chain: print argc, argv and envp as crt0
 * found them on the initial stack, and check that the frame is whole: both
 * vectors end in NULL, and the strings lie above the vectors, below the
 * stack top at 0x80000000.
 */
#include <stdint.h>

#include "check.h"

#define STACK_TOP 0x80000000u

static void print_vector(const char *name, char **vec, char **frame)
{
	int i;

	for (i = 0; vec[i] != NULL; i++) {
		check((char **)vec[i] > frame);
		check((uintptr_t)vec[i] < STACK_TOP);
		printf("execprint: %s[%d] = \"%s\"\n", name, i, vec[i]);
	}
}

int main(int argc, char **argv, char **envp)
{
	printf("execprint: argc = %d\n", argc);
	check(argv[argc] == NULL);
	check(envp == argv + argc + 1);
	print_vector("argv", argv, argv);
	print_vector("envp", envp, argv);
	return 0;
}
