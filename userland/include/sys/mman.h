/* Anonymous memory from VM (MINIX 3.2 include/sys/mman.h). */
#ifndef _SYS_MMAN_H
#define _SYS_MMAN_H

#include <sys/types.h>

#define PROT_NONE	0
#define PROT_READ	1
#define PROT_WRITE	2
#define PROT_EXEC	4

#define MAP_PRIVATE	0x0002
#define MAP_ANON	0x0004
#define MAP_PREALLOC	0x0008	/* allocate the memory now */
#define MAP_CONTIG	0x0010	/* physically contiguous */
#define MAP_LOWER16M	0x0020
#define MAP_ALIGN64K	0x0040
#define MAP_LOWER1M	0x0080
#define MAP_IPC_SHARED	0x0100
#define MAP_FIXED	0x0200	/* exactly at addr, or fail */
#define MAP_THIRDPARTY	0x0400	/* for another process (VFS, RS only) */
#define MAP_UNINITIALIZED 0x0800

#define MAP_FAILED	((void *) -1)

void *minix_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t offset);
int minix_munmap(void *addr, size_t len);
void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t offset);
int munmap(void *addr, size_t len);
int mprotect(void *addr, size_t len, int prot);

#endif /* _SYS_MMAN_H */
