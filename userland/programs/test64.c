/* MINIX test64: map ever larger MAP_PREALLOC|MAP_CONTIG regions until VM
 * runs out (ENOMEM), then show that VM recovers: after munmap, and after a
 * child that ran out exits without unmapping, the largest size that fitted
 * fits again.
 */
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define PAGE 4096
#define MAX_MAPS 20	/* 4 KiB << 19 = 2 GiB: more than any address space */

static char *maps[MAX_MAPS];
static size_t lens[MAX_MAPS];

static char *map_contig(size_t len)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANON | MAP_PREALLOC | MAP_CONTIG, -1, 0);
}

/* Map 4 KiB, 8 KiB, 16 KiB ... until one fails; returns how many fit. */
static int exhaust(void)
{
	size_t len = PAGE;
	int n;

	for (n = 0; n < MAX_MAPS; n++, len *= 2) {
		maps[n] = map_contig(len);
		if (maps[n] == MAP_FAILED) {
			check_eq(errno, ENOMEM);
			return n;
		}
		lens[n] = len;
		maps[n][0] = 1;
		maps[n][len - 1] = 1;
	}
	check(!"memory never ran out");
	return n;
}

static void largest_fits_again(size_t len)
{
	char *p = map_contig(len);

	check(p != MAP_FAILED);
	check(p[0] == 0 && p[len - 1] == 0);
	check_eq(munmap(p, len), 0);
}

int main(void)
{
	int n, i, status;
	pid_t pid;

	printf("test64: MAP_PREALLOC|MAP_CONTIG of growing size until ENOMEM\n");
	n = exhaust();
	check(n > 0);
	printf("test64: %d regions fitted, the largest %u KiB\n", n,
		(unsigned int)(lens[n - 1] / 1024));
	for (i = 0; i < n; i++)
		check_eq(munmap(maps[i], lens[i]), 0);
	largest_fits_again(lens[n - 1]);

	printf("test64: a child runs out and exits without munmap\n");
	pid = fork();
	check(pid >= 0);
	if (pid == 0)
		_exit(exhaust() > 0 ? 0 : 1);
	check_eq(waitpid(pid, &status, 0), pid);
	check(WIFEXITED(status));
	check_eq(WEXITSTATUS(status), 0);
	largest_fits_again(lens[n - 1]);
	printf("test64 ok\n");
	return 0;
}
