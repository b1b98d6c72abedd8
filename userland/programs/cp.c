/* cp SRC DST: a new (or truncated) DST with SRC's bytes and permissions. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static char buf[4096];

static int fail(const char *what)
{
	printf("cp: %s: errno %d\n", what, errno);
	return 1;
}

int main(int argc, char **argv)
{
	struct stat st;
	ssize_t n, done, w;
	int in, out;

	if (argc != 3) {
		printf("usage: cp SRC DST\n");
		return 2;
	}
	in = open(argv[1], O_RDONLY);
	if (in < 0 || fstat(in, &st) < 0)
		return fail(argv[1]);
	out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, st.st_mode & 07777);
	if (out < 0)
		return fail(argv[2]);
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		for (done = 0; done < n; done += w) {
			w = write(out, buf + done, (size_t)(n - done));
			if (w <= 0)
				return fail(argv[2]);
		}
	}
	if (n < 0)
		return fail(argv[1]);
	if (close(out) < 0)
		return fail(argv[2]);
	close(in);
	return 0;
}
