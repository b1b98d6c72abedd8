/* Memory protection: a page made read-only keeps its data and a store to
 * it kills a child with SIGSEGV; a PROT_NONE page kills on a load and keeps
 * its data for when it is readable again; read() into a read-only buffer
 * is EFAULT; mprotect's errors are EINVAL and ENOMEM.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define PAGE	4096

static volatile char *page;

static void store(void)
{
	page[0] = 'X';
}

static void load(void)
{
	(void)page[0];
}

/* Run fault() in a child, which must die of SIGSEGV. */
static void faults(void (*fault)(void))
{
	int status;
	pid_t pid;

	pid = fork();
	check(pid >= 0);
	if (pid == 0) {
		fault();
		_exit(1);	/* survived the access */
	}
	check_eq(waitpid(pid, &status, 0), pid);
	check(WIFSIGNALED(status));
	check_eq(WTERMSIG(status), SIGSEGV);
}

int main(void)
{
	int fd;

	page = mmap(0, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANON, -1, 0);
	check(page != MAP_FAILED);
	page[0] = 'a';

	check_eq(mprotect((void *)page, PAGE, PROT_READ), 0);
	check_eq(page[0], 'a');
	faults(store);

	check_eq(mprotect((void *)page, PAGE, PROT_NONE), 0);
	faults(load);
	check_eq(mprotect((void *)page, PAGE, PROT_READ | PROT_WRITE), 0);
	check_eq(page[0], 'a');
	page[0] = 'b';

	fd = open("/dev/zero", O_RDONLY);
	check(fd >= 0);
	check_eq(mprotect((void *)page, PAGE, PROT_READ), 0);
	check_eq(read(fd, (void *)page, 16), -1);
	check_eq(errno, EFAULT);
	check_eq(page[0], 'b');
	check_eq(mprotect((void *)page, PAGE, PROT_READ | PROT_WRITE), 0);
	check_eq(read(fd, (void *)page, 16), 16);
	check_eq(page[0], 0);
	close(fd);

	check_eq(mprotect((void *)(page + 1), PAGE, PROT_READ), -1);
	check_eq(errno, EINVAL);
	check_eq(mprotect((void *)page, 0, PROT_READ), -1);
	check_eq(errno, EINVAL);
	check_eq(mprotect((void *)page, PAGE, 8), -1);
	check_eq(errno, EINVAL);
	check_eq(munmap((void *)(page + 2 * PAGE), PAGE), 0);
	check_eq(mprotect((void *)page, 3 * PAGE, PROT_READ), -1);
	check_eq(errno, ENOMEM);
	printf("mprotect ok\n");
	return 0;
}
