#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

/* A first-fit free list on sbrk.  Every block starts with a header holding
 * its size (header included); free blocks are kept in address order so
 * that free can merge neighbours.  Memory is never given back to PM.
 */
struct block {
	size_t size;
	struct block *next;	/* only while free */
};

#define UNIT sizeof(struct block)	/* 8: the alignment of every block */

static struct block *free_list;

/* A new block from the break, aligned to UNIT. */
static struct block *grow(size_t need)
{
	char *top = sbrk(0);
	size_t pad = -(uintptr_t)top & (UNIT - 1);
	struct block *b;

	if (sbrk((intptr_t)(pad + need)) == (void *)-1)
		return NULL;
	b = (struct block *)(top + pad);
	b->size = need;
	return b;
}

void *malloc(size_t size)
{
	struct block **link, *b;
	size_t need;

	if (size > SIZE_MAX / 2)
		return NULL;
	need = (size + 2 * UNIT - 1) / UNIT * UNIT;	/* payload + header */
	for (link = &free_list; (b = *link) != NULL; link = &b->next) {
		if (b->size < need)
			continue;
		if (b->size - need >= 2 * UNIT) {
			/* Hand out the tail; the head stays where it is in the list. */
			b->size -= need;
			b = (struct block *)((char *)b + b->size);
			b->size = need;
		} else {
			*link = b->next;
		}
		return b + 1;
	}
	b = grow(need);
	return b == NULL ? NULL : b + 1;
}

static int adjacent(const struct block *a, const struct block *b)
{
	return (const char *)a + a->size == (const char *)b;
}

void free(void *ptr)
{
	struct block *b, *prev = NULL, *next;

	if (ptr == NULL)
		return;
	b = (struct block *)ptr - 1;
	for (next = free_list; next != NULL && next < b; next = next->next)
		prev = next;
	b->next = next;
	if (next != NULL && adjacent(b, next)) {
		b->size += next->size;
		b->next = next->next;
	}
	if (prev == NULL) {
		free_list = b;
	} else if (adjacent(prev, b)) {
		prev->size += b->size;
		prev->next = b->next;
	} else {
		prev->next = b;
	}
}
