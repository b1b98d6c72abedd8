/* MINIX test 10's shape: read a small program (argv[1], default
 * /bin/hello, which exits 0), write copies of it under new names in a
 * fresh directory with creat/write/close, read them back, then fork, exec
 * and wait for each copy several times.  An unlinked copy no longer execs.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define MAX_PROGRAM 12000	/* MINIX's t10a must be smaller */
#define ROUNDS 4

static char program[MAX_PROGRAM], copy[MAX_PROGRAM];
static char *const names[] = {
	"t10b", "t10c", "t10d", "t10e", "t10f", "t10g", "t10h", "t10i", "t10j",
};
#define NCOPIES (int)(sizeof(names) / sizeof(names[0]))

static int read_file(const char *path, char *buf)
{
	int fd = open(path, O_RDONLY), n;

	check(fd >= 0);
	n = read(fd, buf, MAX_PROGRAM);
	check(n > 0 && n < MAX_PROGRAM);
	check_eq(read(fd, buf, MAX_PROGRAM), 0);
	check_eq(close(fd), 0);
	return n;
}

static void write_copy(const char *name, int size)
{
	struct stat st;
	int fd = creat(name, 0755);

	check(fd >= 0);
	check_eq(write(fd, program, size), size);
	check_eq(close(fd), 0);
	check_eq(stat(name, &st), 0);
	check(S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0755);
	check_eq(st.st_size, size);
	check_eq(read_file(name, copy), size);
	check(memcmp(copy, program, size) == 0);
}

/* Fork, exec name in the child; the child's wait status. */
static int run(char *name, char **envp)
{
	char *argv[] = { name, NULL };
	int pid, status;

	pid = fork();
	check(pid >= 0);
	if (pid == 0) {
		execve(name, argv, envp);
		_exit(100 + errno);
	}
	check_eq(waitpid(pid, &status, 0), pid);
	return status;
}

int main(int argc, char **argv, char **envp)
{
	const char *path = argc > 1 ? argv[1] : "/bin/hello";
	int size = read_file(path, program), round, i;

	check_eq(mkdir("DIR_10", 0777), 0);
	check_eq(chdir("DIR_10"), 0);
	for (i = 0; i < NCOPIES; i++)
		write_copy(names[i], size);
	for (round = 0; round < ROUNDS; round++)
		for (i = 0; i < NCOPIES; i++)
			check_eq(run(names[i], envp), 0);
	for (i = 0; i < NCOPIES; i++)
		check_eq(unlink(names[i]), 0);
	check_eq(WEXITSTATUS(run(names[0], envp)), 100 + ENOENT);
	check_eq(chdir(".."), 0);
	check_eq(rmdir("DIR_10"), 0);
	printf("Test 10 ok\n");
	return 0;
}
