/* statcmp PATH: what each of the six stat calls returns for PATH, as hex
 * bytes: `CALL HEX` lines for stat, prev_stat, lstat, prev_lstat, fstat
 * and prev_fstat (the last two on PATH opened read-only), or `CALL errno N`.
 * A host test compares the old and the new struct field by field.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static void dump(const char *call, int r, const void *buf, unsigned int n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = buf;
	char line[2 * sizeof(struct stat) + 1];
	unsigned int i;

	if (r < 0) {
		printf("%s errno %d\n", call, errno);
		return;
	}
	for (i = 0; i < n; i++) {
		line[2 * i] = hex[p[i] >> 4];
		line[2 * i + 1] = hex[p[i] & 15];
	}
	line[2 * n] = '\0';
	printf("%s %s\n", call, line);
}

int main(int argc, char **argv)
{
	struct stat st;
	struct minix_prev_stat ps;
	int fd;

	if (argc != 2) {
		printf("usage: statcmp PATH\n");
		return 2;
	}
	dump("stat", stat(argv[1], &st), &st, sizeof(st));
	dump("prev_stat", prev_stat(argv[1], &ps), &ps, sizeof(ps));
	dump("lstat", lstat(argv[1], &st), &st, sizeof(st));
	dump("prev_lstat", prev_lstat(argv[1], &ps), &ps, sizeof(ps));
	fd = open(argv[1], O_RDONLY);
	dump("fstat", fd < 0 ? fd : fstat(fd, &st), &st, sizeof(st));
	dump("prev_fstat", fd < 0 ? fd : prev_fstat(fd, &ps), &ps, sizeof(ps));
	return 0;
}
