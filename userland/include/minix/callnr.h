/* PM and VFS call numbers of MINIX 3.2 (include/minix/callnr.h). */
#ifndef _MINIX_CALLNR_H
#define _MINIX_CALLNR_H

#define EXIT		1
#define FORK		2
#define READ		3
#define WRITE		4
#define OPEN		5
#define CLOSE		6
#define WAIT		7
#define CREAT		8
#define LINK		9
#define UNLINK		10
#define WAITPID		11
#define CHDIR		12
#define CHMOD		15
#define BRK		17
#define PREV_STAT	18
#define LSEEK		19
#define MINIX_GETPID	20
#define PREV_FSTAT	28
#define SYNC		36
#define KILL		37
#define RENAME		38
#define MKDIR		39
#define RMDIR		40
#define DUP		41
#define SYMLINK		45
#define RDLNK		49
#define PREV_LSTAT	50
#define STAT		51
#define FSTAT		52
#define LSTAT		53
#define FCNTL		55
#define EXEC		59
#define GETDENTS	80
#define TRUNCATE	93
#define FTRUNCATE	94

/* DUP with this bit in m1_i1 is dup2(m1_i1 & ~DUP_MASK, m1_i2). */
#define DUP_MASK	0100

#endif /* _MINIX_CALLNR_H */
