#include <lib.h>
#include <string.h>
#include <unistd.h>

off_t lseek(int fd, off_t offset, int whence)
{
	message m;

	memset(&m, 0, sizeof(m));
	m.m2_i1 = fd;
	m.m2_l1 = offset;
	m.m2_i2 = whence;
	if (_syscall(VFS_PROC_NR, LSEEK, &m) < 0)
		return -1;
	return m.m2_l1;
}
