#include <fcntl.h>
#include <lib.h>
#include <stdarg.h>
#include <string.h>

/* OPEN has two forms: with O_CREAT it is m1 (length, flags, mode, name),
 * without it m3 (the name by _loadname and the flags); VFS tells them
 * apart by the flags, which are in the same slot in both.
 */
int open(const char *path, int flags, ...)
{
	message m;
	va_list ap;

	memset(&m, 0, sizeof(m));
	if (flags & O_CREAT) {
		va_start(ap, flags);
		m.m1_i1 = (int)strlen(path) + 1;
		m.m1_i2 = flags;
		m.m1_i3 = (int)va_arg(ap, mode_t);
		m.m1_p1 = (char *)path;
		va_end(ap);
	} else {
		_loadname(path, &m);
		m.m3_i2 = flags;
	}
	return _syscall(VFS_PROC_NR, OPEN, &m);
}

int creat(const char *path, mode_t mode)
{
	message m;

	memset(&m, 0, sizeof(m));
	_loadname(path, &m);
	m.m3_i2 = (int)mode;
	return _syscall(VFS_PROC_NR, CREAT, &m);
}
