#include <errno.h>
#include <lib.h>
#include <string.h>
#include <unistd.h>

/* The break as libc knows it: PM only hears about changes, and sbrk is
 * arithmetic on this pointer.  It starts at the end of .bss.
 */
extern char _end[];
char *_brksize = _end;

int brk(void *addr)
{
	message m;

	if ((char *)addr == _brksize)
		return 0;
	memset(&m, 0, sizeof(m));
	m.m1_p1 = addr;
	if (_syscall(PM_PROC_NR, BRK, &m) < 0)
		return -1;
	_brksize = m.m2_p1;
	return 0;
}

void *sbrk(intptr_t incr)
{
	char *oldsize = _brksize;
	char *newsize = _brksize + incr;

	/* The break cannot wrap around the address space. */
	if ((incr > 0 && newsize < oldsize) || (incr < 0 && newsize > oldsize)) {
		errno = ENOMEM;
		return (void *)-1;
	}
	if (brk(newsize) < 0)
		return (void *)-1;
	return oldsize;
}
