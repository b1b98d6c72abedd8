/* MINIX test6: brk and sbrk arithmetic, fresh memory is zero, and .bss is
 * zero at start (6b's 5000 ints).  Also malloc, which lives on sbrk.
 */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

#define PAGE 4096

extern char _end[];
static volatile int bss_words[5000];	/* volatile: gcc would fold the loads */

static char *page_up(char *p)
{
	return (char *)(((uintptr_t)p + PAGE - 1) & ~(uintptr_t)(PAGE - 1));
}

static int all_zero(const char *p, const char *end)
{
	while (p < end)
		if (*p++ != 0)
			return 0;
	return 1;
}

static void bss_is_zero(void)
{
	int i;

	printf("test6: .bss (%d ints) is zero\n", 5000);
	for (i = 0; i < 5000; i++)
		check_eq(bss_words[i], 0);
}

static void sbrk_arithmetic(void)
{
	char *b0 = sbrk(0);

	printf("test6: sbrk(0), sbrk(+n), sbrk(-n)\n");
	check(b0 == _end);		/* the break starts at the end of .bss */
	check(sbrk(100) == b0);		/* sbrk returns the old break */
	check(sbrk(0) == b0 + 100);
	check(all_zero(b0, b0 + 100));
	memset(b0, 0x5A, 100);
	check(sbrk(-40) == b0 + 100);
	check(sbrk(0) == b0 + 60);
	check(b0[59] == 0x5A);		/* below the break: kept */
	/* incr so negative that the break would wrap: refused by libc */
	check(sbrk(INT32_MIN) == (void *)-1 && errno == ENOMEM);
	check(sbrk(0) == b0 + 60);
	check_eq(brk(b0), 0);
}

static void brk_up_and_down(void)
{
	char *b0 = sbrk(0), *fresh = page_up(b0 + 1);
	char *top = b0 + 3 * PAGE;

	printf("test6: brk higher, lower, higher again; a break past memory\n");
	check_eq(brk(top), 0);
	check(sbrk(0) == top);
	check(all_zero(fresh, top));
	memset(fresh, 0xA5, top - fresh);
	check_eq(brk(b0 + PAGE), 0);
	check(sbrk(0) == b0 + PAGE);
	check_eq(brk(top), 0);
	/* Pages given back and taken again come back as fresh zero pages. */
	check(all_zero(page_up(b0 + PAGE), top));
	/* Into the stack region: VM must refuse, not grow over it. */
	check(brk((void *)0x7D000000) == -1 && errno == ENOMEM);
	check(sbrk(0) == top);
	check_eq(brk(b0), 0);
}

static void malloc_and_free(void)
{
	char *a, *b, *c, *d, *top;

	printf("test6: malloc, free, reuse\n");
	a = malloc(100);
	b = malloc(5000);
	c = malloc(100);
	check(a != NULL && b != NULL && c != NULL);
	check(((uintptr_t)a | (uintptr_t)b | (uintptr_t)c) % 8 == 0);
	check(a + 100 <= b && b + 5000 <= c);
	memset(a, 1, 100);
	memset(b, 2, 5000);
	memset(c, 3, 100);
	top = sbrk(0);
	free(b);
	d = malloc(4000);		/* fits in b's block */
	check(d >= b && d + 4000 <= b + 5000);
	check(a[99] == 1 && c[0] == 3);
	free(a);
	free(d);
	free(c);
	d = malloc(5200);		/* fits only in the merged a + b + c */
	check(d >= a && d <= c);
	check(sbrk(0) == top);		/* reused, not taken from the break */
	free(d);
}

int main(void)
{
	bss_is_zero();
	sbrk_arithmetic();
	brk_up_and_down();
	malloc_and_free();
	printf("test6 ok\n");
	return 0;
}
