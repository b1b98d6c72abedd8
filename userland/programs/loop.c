/* Benchmark: N iterations (argv[1], default 100,000,000) of a two-instruction
 * register loop (dec, jnz), no memory access and no call until exit.
 */
#include <stdlib.h>

int main(int argc, char **argv)
{
	unsigned int n = argc > 1 ? (unsigned int)atoi(argv[1]) : 100000000;

	if (n > 0)
		__asm__ volatile("1: decl %0\n\tjnz 1b" : "+r"(n));
	return 0;
}
