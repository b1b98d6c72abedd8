/* MINIX test44: five 8 KiB mappings at consecutive hints from 0x90000000
 * form adjacent regions; loads, stores and kernel copies across their
 * boundaries work; a buffer that runs off the last region, or lies in the
 * kernel's part of the address space, makes the whole call fail with
 * EFAULT (no short count).
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"

#define CHUNKS 5
#define CHUNK (8 * 1024)
#define HINT ((char *)0x90000000)

static char *chunk[CHUNKS];

static void *map(void *addr, size_t len, int extra_flags)
{
	return mmap(addr, len, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANON | extra_flags, -1, 0);
}

/* The first three honour a plain hint, the others ask with MAP_FIXED. */
static void map_at_hints(void)
{
	int i;

	printf("test44: %d x %d KiB at hints from %p\n", CHUNKS, CHUNK / 1024, HINT);
	for (i = 0; i < CHUNKS; i++) {
		chunk[i] = map(HINT + i * CHUNK, CHUNK, i < 3 ? 0 : MAP_FIXED);
		check(chunk[i] != MAP_FAILED);
		check(chunk[i] == HINT + i * CHUNK);
	}
	/* MAP_FIXED onto an occupied range replaces it, as POSIX says and
	 * MINIX's VM does since 2013 (2012's failed with ENOMEM). */
	chunk[1][0] = 1;
	check(map(chunk[1], CHUNK, MAP_FIXED) == chunk[1]);
	check(chunk[1][0] == 0);
}

static void across_boundaries(void)
{
	static const char line[] = "test44: this line straddles two regions\n";
	char *edge = chunk[1] + CHUNK;	/* where chunk[2] begins */
	volatile char *mem = HINT;	/* so the loads really happen */
	int i;

	printf("test44: stores, loads and a write() across region boundaries\n");
	for (i = 0; i < CHUNKS; i++)
		check(chunk[i][0] == 0 && chunk[i][CHUNK - 1] == 0);
	for (i = 0; i < CHUNKS * CHUNK; i++)
		mem[i] = (char)(i * 7);
	for (i = 0; i < CHUNKS * CHUNK; i++)
		check(mem[i] == (char)(i * 7));
	memcpy(edge - 10, line, sizeof(line) - 1);
	check(memcmp(edge - 10, line, sizeof(line) - 1) == 0);
	check_eq(write(1, edge - 10, sizeof(line) - 1), sizeof(line) - 1);
}

static void bad_buffers(void)
{
	printf("test44: EFAULT for buffers off the end and in the kernel's range\n");
	check(write(1, chunk[CHUNKS - 1], 256 * 1024) == -1 && errno == EFAULT);
	check(write(1, (char *)0xF0000000, 10) == -1 && errno == EFAULT);
}

static void unmap_and_remap(void)
{
	char *any;
	int i;

	printf("test44: munmap the middle region, then all\n");
	check_eq(munmap(chunk[2], CHUNK), 0);
	check(write(1, chunk[2], 1) == -1 && errno == EFAULT);
	check(map(chunk[2], CHUNK, MAP_FIXED) == chunk[2]);
	check(chunk[2][0] == 0);	/* a new region: zero again */
	for (i = 0; i < CHUNKS; i++)
		check_eq(munmap(chunk[i], CHUNK), 0);
	check(write(1, chunk[0], 1) == -1 && errno == EFAULT);
	/* Without a hint VM picks a free page-aligned address. */
	any = map(NULL, CHUNK, 0);
	check(any != MAP_FAILED && (uintptr_t)any % 4096 == 0);
	check_eq(munmap(any, CHUNK), 0);
}

int main(void)
{
	map_at_hints();
	across_boundaries();
	bad_buffers();
	unmap_and_remap();
	printf("test44 ok\n");
	return 0;
}
