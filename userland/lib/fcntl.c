#include <fcntl.h>
#include <lib.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

/* Descriptor calls: DUP (dup2 is DUP with DUP_MASK) and FCNTL. */

int dup(int fd)
{
	message m;

	memset(&m, 0, sizeof(m));
	m.m1_i1 = fd;
	return _syscall(VFS_PROC_NR, DUP, &m);
}

int dup2(int fd, int fd2)
{
	message m;

	memset(&m, 0, sizeof(m));
	m.m1_i1 = fd | DUP_MASK;
	m.m1_i2 = fd2;
	return _syscall(VFS_PROC_NR, DUP, &m);
}

/* Every command here takes an int argument or none. */
int fcntl(int fd, int cmd, ...)
{
	message m;
	va_list ap;

	memset(&m, 0, sizeof(m));
	m.m1_i1 = fd;
	m.m1_i2 = cmd;
	if (cmd == F_DUPFD || cmd == F_SETFD || cmd == F_SETFL) {
		va_start(ap, cmd);
		m.m1_i3 = va_arg(ap, int);
		va_end(ap);
	}
	return _syscall(VFS_PROC_NR, FCNTL, &m);
}
