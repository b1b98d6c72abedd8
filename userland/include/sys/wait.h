/* Wait status as MINIX encodes it: exit code << 8 | signal number. */
#ifndef _SYS_WAIT_H
#define _SYS_WAIT_H

#include <sys/types.h>

#define WNOHANG		1

#define WTERMSIG(s)	((s) & 0x7F)
#define WEXITSTATUS(s)	(((s) >> 8) & 0xFF)
#define WIFEXITED(s)	(WTERMSIG(s) == 0)
#define WIFSIGNALED(s)	(WTERMSIG(s) != 0 && WTERMSIG(s) != 0x7F)

pid_t wait(int *status);
pid_t waitpid(pid_t pid, int *status, int options);

#endif /* _SYS_WAIT_H */
