/* Benchmark: N passes (argv[1], default 1,000) over a 64 KiB .bss buffer,
 * each storing every word and then loading and summing them; the sum is
 * checked, so the loads cannot be skipped.  After the first pass every
 * page is resident: no more faults.
 */
#include <stdlib.h>

#define WORDS (64 * 1024 / 4)

static unsigned int buf[WORDS];

int main(int argc, char **argv)
{
	volatile unsigned int *p = buf;
	unsigned int passes = argc > 1 ? (unsigned int)atoi(argv[1]) : 1000;
	unsigned int pass, i, sum = 0, want = 0;

	for (pass = 0; pass < passes; pass++) {
		for (i = 0; i < WORDS; i++)
			p[i] = i + pass;
		for (i = 0; i < WORDS; i++)
			sum += p[i];
		want += WORDS * (WORDS - 1) / 2 + WORDS * pass;
	}
	return sum == want ? 0 : 1;
}
