#include <lib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* MKDIR in the m1 form; RMDIR, CHDIR and CHMOD by _loadname. */

int mkdir(const char *path, mode_t mode)
{
	message m;

	memset(&m, 0, sizeof(m));
	m.m1_i1 = (int)strlen(path) + 1;
	m.m1_i2 = (int)mode;
	m.m1_p1 = (char *)path;
	return _syscall(VFS_PROC_NR, MKDIR, &m);
}

static int one_name(int call, const char *path, int arg)
{
	message m;

	memset(&m, 0, sizeof(m));
	_loadname(path, &m);
	m.m3_i2 = arg;
	return _syscall(VFS_PROC_NR, call, &m);
}

int rmdir(const char *path)
{
	return one_name(RMDIR, path, 0);
}

int chdir(const char *path)
{
	return one_name(CHDIR, path, 0);
}

int chmod(const char *path, mode_t mode)
{
	return one_name(CHMOD, path, (int)mode);
}
