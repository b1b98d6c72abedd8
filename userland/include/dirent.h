/* Directory entries as GETDENTS returns them (MINIX 3.2's struct dirent):
 * records of d_ino, d_off (the directory position after the entry),
 * d_reclen and the NUL-terminated name, each padded to 4 bytes.
 */
#ifndef _DIRENT_H
#define _DIRENT_H

#include <stdint.h>
#include <sys/types.h>

#define NAME_MAX	60	/* the longest name on a MINIX v3 file system */

struct dirent {
	uint32_t d_ino;
	int32_t d_off;
	uint16_t d_reclen;
	char d_name[NAME_MAX + 1];
};

_Static_assert(offsetof(struct dirent, d_name) == 10, "d_name follows a 10-byte header");

typedef struct _dir DIR;

int getdents(int fd, char *buf, size_t nbytes);
DIR *opendir(const char *path);
struct dirent *readdir(DIR *dir);
int closedir(DIR *dir);

#endif /* _DIRENT_H */
