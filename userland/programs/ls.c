/* ls [-a] [-l] [PATH...]: the entries of each directory (or the file
 * named), in directory order.  -a shows names starting with '.'; -l gives
 * each as `MODE NLINK SIZE NAME`, with `-> TARGET` for a symbolic link.
 * Sizes print as 32-bit numbers.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_MAX 255

static int all, longform;

/* "drwxr-xr-x": the type letter and the nine permission bits. */
static void mode_string(mode_t mode, char *out)
{
	static const char rwx[] = "rwxrwxrwx";
	int i;

	switch (mode & S_IFMT) {
	case S_IFDIR: out[0] = 'd'; break;
	case S_IFLNK: out[0] = 'l'; break;
	case S_IFCHR: out[0] = 'c'; break;
	case S_IFBLK: out[0] = 'b'; break;
	case S_IFIFO: out[0] = 'p'; break;
	default: out[0] = '-';
	}
	for (i = 0; i < 9; i++)
		out[1 + i] = (mode & (0400 >> i)) ? rwx[i] : '-';
	out[10] = '\0';
}

/* One line for the file at path, shown as name. */
static int show(const char *path, const char *name)
{
	struct stat st;
	char mode[11], target[PATH_MAX + 1];
	ssize_t n;

	if (!longform) {
		printf("%s\n", name);
		return 0;
	}
	if (lstat(path, &st) < 0) {
		printf("ls: %s: errno %d\n", path, errno);
		return 1;
	}
	mode_string(st.st_mode, mode);
	printf("%s %2u %6u %s", mode, (unsigned int)st.st_nlink,
		(unsigned int)st.st_size, name);
	if (S_ISLNK(st.st_mode)) {
		n = readlink(path, target, PATH_MAX);
		if (n < 0) {
			printf("\nls: %s: readlink: errno %d\n", path, errno);
			return 1;
		}
		target[n] = '\0';
		printf(" -> %s", target);
	}
	printf("\n");
	return 0;
}

/* dirpath/name into path; -1 if that is too long. */
static int join(char *path, const char *dirpath, const char *name)
{
	size_t n = strlen(dirpath);
	int slash = n > 0 && dirpath[n - 1] != '/';

	if (n + slash + strlen(name) > PATH_MAX)
		return -1;
	strcpy(path, dirpath);
	if (slash)
		path[n++] = '/';
	strcpy(path + n, name);
	return 0;
}

static int list_dir(const char *dirpath)
{
	char path[PATH_MAX + 1];
	struct dirent *d;
	DIR *dir = opendir(dirpath);
	int status = 0;

	if (dir == NULL) {
		printf("ls: %s: errno %d\n", dirpath, errno);
		return 1;
	}
	for (;;) {
		errno = 0;	/* readdir's NULL is the end unless errno says why */
		d = readdir(dir);
		if (d == NULL)
			break;
		if (d->d_name[0] == '.' && !all)
			continue;
		if (join(path, dirpath, d->d_name) < 0) {
			printf("ls: %s/%s: name too long\n", dirpath, d->d_name);
			status = 1;
			continue;
		}
		status |= show(path, d->d_name);
	}
	if (errno != 0) {
		printf("ls: %s: errno %d\n", dirpath, errno);
		status = 1;
	}
	closedir(dir);
	return status;
}

static int list(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		printf("ls: %s: errno %d\n", path, errno);
		return 1;
	}
	return S_ISDIR(st.st_mode) ? list_dir(path) : show(path, path);
}

int main(int argc, char **argv)
{
	int i, status = 0, paths = 0;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strchr(argv[i], 'a'))
			all = 1;
		if (strchr(argv[i], 'l'))
			longform = 1;
	}
	for (; i < argc; i++, paths++)
		status |= list(argv[i]);
	if (paths == 0)
		status = list(".");
	return status;
}
