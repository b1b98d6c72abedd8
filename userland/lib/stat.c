#include <lib.h>
#include <string.h>
#include <sys/stat.h>

/* STAT, FSTAT, LSTAT fill a struct stat; the PREV_* calls, the same
 * requests of the older libc, fill a struct minix_prev_stat.  VFS writes
 * the whole struct into the caller's buffer.
 */

static int by_name(int call, const char *path, void *buf)
{
	message m;

	memset(&m, 0, sizeof(m));
	m.m1_i1 = (int)strlen(path) + 1;
	m.m1_p1 = (char *)path;
	m.m1_p2 = buf;
	return _syscall(VFS_PROC_NR, call, &m);
}

static int by_fd(int call, int fd, void *buf)
{
	message m;

	memset(&m, 0, sizeof(m));
	m.m1_i1 = fd;
	m.m1_p1 = buf;
	return _syscall(VFS_PROC_NR, call, &m);
}

int stat(const char *path, struct stat *st)
{
	return by_name(STAT, path, st);
}

int fstat(int fd, struct stat *st)
{
	return by_fd(FSTAT, fd, st);
}

int lstat(const char *path, struct stat *st)
{
	return by_name(LSTAT, path, st);
}

int prev_stat(const char *path, struct minix_prev_stat *st)
{
	return by_name(PREV_STAT, path, st);
}

int prev_fstat(int fd, struct minix_prev_stat *st)
{
	return by_fd(PREV_FSTAT, fd, st);
}

int prev_lstat(const char *path, struct minix_prev_stat *st)
{
	return by_name(PREV_LSTAT, path, st);
}
