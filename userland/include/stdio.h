/* Output only, unbuffered across calls: every printf ends in write(1, ...),
 * so nothing is lost or duplicated when a program forks or exits.
 */
#ifndef _STDIO_H
#define _STDIO_H

#include <stddef.h>

int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int puts(const char *s);
int rename(const char *from, const char *to);

#endif /* _STDIO_H */
