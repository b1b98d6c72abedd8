#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lib.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* GETDENTS and a DIR that buffers its records: readdir hands them out one
 * by one and asks VFS for more when they are used up.
 */

#define DIRBUF 1024

struct _dir {
	int fd;
	int len;	/* bytes of records in buf */
	int pos;	/* the next record's offset in buf */
	char buf[DIRBUF];
};

/* Whole records from the directory's position on; bytes returned, 0 at
 * the end.
 */
int getdents(int fd, char *buf, size_t nbytes)
{
	message m;

	memset(&m, 0, sizeof(m));
	m.m1_i1 = fd;
	m.m1_i2 = (int)nbytes;
	m.m1_p1 = buf;
	return _syscall(VFS_PROC_NR, GETDENTS, &m);
}

DIR *opendir(const char *path)
{
	DIR *dir;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return NULL;
	dir = malloc(sizeof(*dir));
	if (dir == NULL) {
		close(fd);
		return NULL;
	}
	dir->fd = fd;
	dir->len = dir->pos = 0;
	return dir;
}

struct dirent *readdir(DIR *dir)
{
	struct dirent *d;

	if (dir->pos >= dir->len) {
		dir->len = getdents(dir->fd, dir->buf, sizeof(dir->buf));
		dir->pos = 0;
		if (dir->len <= 0)
			return NULL;
	}
	d = (struct dirent *)(dir->buf + dir->pos);
	/* A record that does not fit would have readdir run off the buffer. */
	if (d->d_reclen <= offsetof(struct dirent, d_name) || d->d_reclen > dir->len - dir->pos) {
		errno = EIO;
		return NULL;
	}
	dir->pos += d->d_reclen;
	return d;
}

int closedir(DIR *dir)
{
	int r = close(dir->fd);

	free(dir);
	return r;
}
