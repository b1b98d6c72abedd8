/* The few types the library passes around; i386 sizes. */
#ifndef _SYS_TYPES_H
#define _SYS_TYPES_H

#include <stddef.h>
#include <stdint.h>

typedef int endpoint_t;
typedef int pid_t;
typedef int ssize_t;
typedef long off_t;	/* 32 bits: the m5_i2 / m2_l1 slots hold it */

#endif /* _SYS_TYPES_H */
