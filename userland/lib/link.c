#include <lib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Calls on names: the two-name calls (LINK, RENAME, SYMLINK) in the m1
 * form, UNLINK by _loadname, RDLNK, TRUNCATE and FTRUNCATE.
 */

static int two_names(int call, const char *name1, const char *name2)
{
	message m;

	memset(&m, 0, sizeof(m));
	m.m1_i1 = (int)strlen(name1) + 1;
	m.m1_i2 = (int)strlen(name2) + 1;
	m.m1_p1 = (char *)name1;
	m.m1_p2 = (char *)name2;
	return _syscall(VFS_PROC_NR, call, &m);
}

int link(const char *path1, const char *path2)
{
	return two_names(LINK, path1, path2);
}

int rename(const char *from, const char *to)
{
	return two_names(RENAME, from, to);
}

/* name1 is the link's contents, name2 the new link. */
int symlink(const char *target, const char *path)
{
	return two_names(SYMLINK, target, path);
}

int unlink(const char *path)
{
	message m;

	memset(&m, 0, sizeof(m));
	_loadname(path, &m);
	return _syscall(VFS_PROC_NR, UNLINK, &m);
}

/* The contents, not NUL-terminated; their length. */
ssize_t readlink(const char *path, char *buf, size_t bufsize)
{
	message m;

	memset(&m, 0, sizeof(m));
	m.m1_i1 = (int)strlen(path) + 1;
	m.m1_i2 = (int)bufsize;
	m.m1_p1 = (char *)path;
	m.m1_p2 = buf;
	return _syscall(VFS_PROC_NR, RDLNK, &m);
}

int truncate(const char *path, off_t length)
{
	message m;

	memset(&m, 0, sizeof(m));
	m.m2_i1 = (int)strlen(path) + 1;
	m.m2_l1 = length;
	m.m2_p1 = (char *)path;
	return _syscall(VFS_PROC_NR, TRUNCATE, &m);
}

int ftruncate(int fd, off_t length)
{
	message m;

	memset(&m, 0, sizeof(m));
	m.m2_i1 = fd;
	m.m2_l1 = length;
	return _syscall(VFS_PROC_NR, FTRUNCATE, &m);
}
