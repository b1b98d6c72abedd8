#include <lib.h>
#include <string.h>
#include <unistd.h>

/* READ, WRITE and CLOSE to VFS. */

static ssize_t transfer(int call, int fd, const void *buf, size_t nbytes)
{
	message m;

	memset(&m, 0, sizeof(m));
	m.m1_i1 = fd;
	m.m1_i2 = (int)nbytes;
	m.m1_p1 = (char *)buf;
	return _syscall(VFS_PROC_NR, call, &m);
}

ssize_t read(int fd, void *buf, size_t nbytes)
{
	return transfer(READ, fd, buf, nbytes);
}

ssize_t write(int fd, const void *buf, size_t nbytes)
{
	return transfer(WRITE, fd, buf, nbytes);
}

int close(int fd)
{
	message m;

	memset(&m, 0, sizeof(m));
	m.m1_i1 = fd;
	return _syscall(VFS_PROC_NR, CLOSE, &m);
}
