/* How the test programs report: a failed check prints where it is, what it
 * checked and errno, and exits 1; a program that gets to its end exits 0.
 */
#ifndef _CHECK_H
#define _CHECK_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define check(cond) \
	do { if (!(cond)) check_failed(__FILE__, __LINE__, #cond); } while (0)

/* For values worth seeing when they are wrong. */
#define check_eq(got, want) \
	do { \
		int got_ = (int)(got), want_ = (int)(want); \
		if (got_ != want_) \
			check_eq_failed(__FILE__, __LINE__, #got, got_, want_); \
	} while (0)

static inline __attribute__((noreturn)) void check_failed(const char *file,
	int line, const char *what)
{
	printf("%s:%d: check failed: %s (errno %d)\n", file, line, what, errno);
	exit(1);
}

static inline __attribute__((noreturn)) void check_eq_failed(const char *file,
	int line, const char *what, int got, int want)
{
	printf("%s:%d: %s is %d (0x%x), want %d (0x%x) (errno %d)\n", file, line,
		what, got, got, want, want, errno);
	exit(1);
}

#endif /* _CHECK_H */
