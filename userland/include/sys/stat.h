/* struct stat as STAT, FSTAT and LSTAT fill it: NetBSD's layout, 100 bytes
 * on i386 (minix-exec-fs.md D); and the 36-byte struct minix_prev_stat of
 * the older PREV_STAT, PREV_FSTAT and PREV_LSTAT calls.
 */
#ifndef _SYS_STAT_H
#define _SYS_STAT_H

#include <stddef.h>
#include <sys/types.h>

struct stat {
	dev_t st_dev;
	mode_t st_mode;
	ino_t st_ino;
	nlink_t st_nlink;
	uid_t st_uid;
	gid_t st_gid;
	dev_t st_rdev;
	time_t st_atime;
	long st_atimensec;
	time_t st_mtime;
	long st_mtimensec;
	time_t st_ctime;
	long st_ctimensec;
	time_t st_birthtime;
	long st_birthtimensec;
	int64_t st_size;	/* off_t is 64 bits here, 32 in the calls */
	blkcnt_t st_blocks;
	blksize_t st_blksize;
	uint32_t st_flags;
	uint32_t st_gen;
	uint32_t st_spare[2];
};

struct minix_prev_stat {
	short st_dev;
	unsigned int st_ino;
	unsigned short st_mode;
	short st_nlink;
	short st_uid;
	short st_gid;
	short st_rdev;
	int st_size;
	int st_atime;
	int st_mtime;
	int st_ctime;
};

/* The reference's tables: a layout that drifts breaks the build. */
#define _STAT_AT(field, off) _Static_assert(offsetof(struct stat, field) == (off), \
	"stat." #field " is not at " #off)
#define _PREV_AT(field, off) _Static_assert(offsetof(struct minix_prev_stat, field) == (off), \
	"minix_prev_stat." #field " is not at " #off)
_Static_assert(sizeof(struct stat) == 100, "struct stat is 100 bytes");
_STAT_AT(st_dev, 0); _STAT_AT(st_mode, 4); _STAT_AT(st_ino, 8); _STAT_AT(st_nlink, 16);
_STAT_AT(st_uid, 20); _STAT_AT(st_gid, 24); _STAT_AT(st_rdev, 28); _STAT_AT(st_atime, 32);
_STAT_AT(st_mtime, 40); _STAT_AT(st_ctime, 48); _STAT_AT(st_birthtime, 56);
_STAT_AT(st_size, 64); _STAT_AT(st_blocks, 72); _STAT_AT(st_blksize, 80);
_STAT_AT(st_flags, 84); _STAT_AT(st_gen, 88); _STAT_AT(st_spare, 92);
_Static_assert(sizeof(struct minix_prev_stat) == 36, "struct minix_prev_stat is 36 bytes");
_PREV_AT(st_dev, 0); _PREV_AT(st_ino, 4); _PREV_AT(st_mode, 8); _PREV_AT(st_nlink, 10);
_PREV_AT(st_uid, 12); _PREV_AT(st_gid, 14); _PREV_AT(st_rdev, 16); _PREV_AT(st_size, 20);
_PREV_AT(st_atime, 24); _PREV_AT(st_mtime, 28); _PREV_AT(st_ctime, 32);
#undef _STAT_AT
#undef _PREV_AT

#define S_IFMT		0170000
#define S_IFREG		0100000
#define S_IFDIR		0040000
#define S_IFCHR		0020000
#define S_IFBLK		0060000
#define S_IFIFO		0010000
#define S_IFLNK		0120000
#define S_ISUID		04000
#define S_ISGID		02000
#define S_ISVTX		01000

#define S_ISREG(m)	(((m) & S_IFMT) == S_IFREG)
#define S_ISDIR(m)	(((m) & S_IFMT) == S_IFDIR)
#define S_ISCHR(m)	(((m) & S_IFMT) == S_IFCHR)
#define S_ISBLK(m)	(((m) & S_IFMT) == S_IFBLK)
#define S_ISFIFO(m)	(((m) & S_IFMT) == S_IFIFO)
#define S_ISLNK(m)	(((m) & S_IFMT) == S_IFLNK)

int stat(const char *path, struct stat *st);
int fstat(int fd, struct stat *st);
int lstat(const char *path, struct stat *st);
int prev_stat(const char *path, struct minix_prev_stat *st);
int prev_fstat(int fd, struct minix_prev_stat *st);
int prev_lstat(const char *path, struct minix_prev_stat *st);
int mkdir(const char *path, mode_t mode);
int chmod(const char *path, mode_t mode);

#endif /* _SYS_STAT_H */
