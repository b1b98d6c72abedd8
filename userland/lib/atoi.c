#include <stdlib.h>

/* Decimal with an optional sign; stops at the first other character. */
int atoi(const char *s)
{
	int sign = 1, n = 0;

	if (*s == '-' || *s == '+')
		sign = (*s++ == '-') ? -1 : 1;
	while (*s >= '0' && *s <= '9')
		n = n * 10 + (*s++ - '0');
	return sign * n;
}
