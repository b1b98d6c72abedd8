/* The few types the library passes around; i386 sizes. */
#ifndef _SYS_TYPES_H
#define _SYS_TYPES_H

#include <stddef.h>
#include <stdint.h>

typedef int endpoint_t;
typedef int pid_t;
typedef int ssize_t;
typedef long off_t;	/* 32 bits: the m5_i2 / m2_l1 slots hold it */

/* struct stat's (NetBSD's, minix-exec-fs.md D). */
typedef uint32_t dev_t;
typedef uint32_t mode_t;
typedef uint64_t ino_t;
typedef uint32_t nlink_t;
typedef uint32_t uid_t;
typedef uint32_t gid_t;
typedef int32_t time_t;	/* 32 bits until 2013 */
typedef int64_t blkcnt_t;
typedef uint32_t blksize_t;

#endif /* _SYS_TYPES_H */
