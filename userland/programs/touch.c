/* Benchmark: N first touches (argv[1], default 4,096): one store to each
 * page of a fresh N-page mmap, so each store is one demand-zero fault.
 */
#include <stdlib.h>
#include <sys/mman.h>

#define PAGE 4096

int main(int argc, char **argv)
{
	unsigned int pages = argc > 1 ? (unsigned int)atoi(argv[1]) : 4096;
	volatile char *area = mmap(0, pages * PAGE, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANON, -1, 0);
	unsigned int i;

	if (area == MAP_FAILED)
		return 1;
	for (i = 0; i < pages; i++)
		area[i * PAGE] = 1;
	return 0;
}
