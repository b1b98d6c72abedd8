#include <lib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Process calls to PM. */

static int pm_call(int call, message *m)
{
	return _syscall(PM_PROC_NR, call, m);
}

pid_t fork(void)
{
	message m;

	memset(&m, 0, sizeof(m));
	return pm_call(FORK, &m);
}

pid_t wait(int *status)
{
	message m;

	memset(&m, 0, sizeof(m));
	if (pm_call(WAIT, &m) < 0)
		return -1;
	if (status != NULL)
		*status = m.m2_i1;
	return m.m_type;
}

pid_t waitpid(pid_t pid, int *status, int options)
{
	message m;

	memset(&m, 0, sizeof(m));
	m.m1_i1 = pid;
	m.m1_i2 = options;
	if (pm_call(WAITPID, &m) < 0)
		return -1;
	if (status != NULL)
		*status = m.m2_i1;
	return m.m_type;
}

pid_t getpid(void)
{
	message m;

	memset(&m, 0, sizeof(m));
	return pm_call(MINIX_GETPID, &m);
}

/* The same call answers both: the parent comes back in m2_i1. */
pid_t getppid(void)
{
	message m;

	memset(&m, 0, sizeof(m));
	if (pm_call(MINIX_GETPID, &m) < 0)
		return -1;
	return m.m2_i1;
}

int kill(pid_t pid, int sig)
{
	message m;

	memset(&m, 0, sizeof(m));
	m.m1_i1 = pid;
	m.m1_i2 = sig;
	return pm_call(KILL, &m);
}
