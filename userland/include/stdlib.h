#ifndef _STDLIB_H
#define _STDLIB_H

#include <stddef.h>

void exit(int status) __attribute__((noreturn));
void *malloc(size_t size);
void free(void *ptr);
int atoi(const char *s);

#endif /* _STDLIB_H */
