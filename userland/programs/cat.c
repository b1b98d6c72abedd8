/* cat [FILE...]: each file in turn, or standard input, to standard output. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static char buf[4096];

/* Copy fd to standard output: 0, or -1 with errno set. */
static int copy(int fd)
{
	ssize_t n, done, w;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (done = 0; done < n; done += w) {
			w = write(STDOUT_FILENO, buf + done, (size_t)(n - done));
			if (w <= 0)
				return -1;
		}
	}
	return n < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	int i, fd, status = 0;

	if (argc < 2)
		return copy(STDIN_FILENO) < 0;
	for (i = 1; i < argc; i++) {
		fd = open(argv[i], O_RDONLY);
		if (fd < 0 || copy(fd) < 0) {
			printf("cat: %s: errno %d\n", argv[i], errno);
			status = 1;
		}
		if (fd >= 0)
			close(fd);
	}
	return status;
}
