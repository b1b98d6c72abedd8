/* PM and VFS call numbers of MINIX 3.2 (include/minix/callnr.h). */
#ifndef _MINIX_CALLNR_H
#define _MINIX_CALLNR_H

#define EXIT		1
#define FORK		2
#define READ		3
#define WRITE		4
#define CLOSE		6
#define WAIT		7
#define WAITPID		11
#define BRK		17
#define MINIX_GETPID	20
#define KILL		37
#define EXEC		59

#endif /* _MINIX_CALLNR_H */
