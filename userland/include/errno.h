/* errno values of MINIX 3.2 (include/sys/errno.h): positive in user space,
 * negative in the servers' replies and in the trap's status.
 */
#ifndef _ERRNO_H
#define _ERRNO_H

extern int errno;

#define EPERM		1
#define ENOENT		2
#define ESRCH		3
#define EINTR		4
#define EIO		5
#define ENXIO		6
#define E2BIG		7
#define ENOEXEC		8
#define EBADF		9
#define ECHILD		10
#define EAGAIN		11
#define ENOMEM		12
#define EACCES		13
#define EFAULT		14
#define EBUSY		16
#define EEXIST		17
#define EXDEV		18
#define ENODEV		19
#define ENOTDIR		20
#define EISDIR		21
#define EINVAL		22
#define ENFILE		23
#define EMFILE		24
#define ENOTTY		25
#define ETXTBSY		26
#define EFBIG		27
#define ENOSPC		28
#define ESPIPE		29
#define EROFS		30
#define EMLINK		31
#define EPIPE		32
#define EDOM		33
#define ERANGE		34
#define ENAMETOOLONG	36
#define ENOSYS		38
#define ENOTEMPTY	39
#define ELOOP		40
#define EOVERFLOW	46

/* Errors of the IPC trap itself. */
#define ELOCKED		101
#define EBADCALL	102
#define EBADSRCDST	103
#define ECALLDENIED	104
#define EDEADSRCDST	105
#define ENOTREADY	106
#define ETRAPDENIED	110

#endif /* _ERRNO_H */
