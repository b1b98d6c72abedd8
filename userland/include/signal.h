#ifndef _SIGNAL_H
#define _SIGNAL_H

#include <sys/types.h>

#define SIGKILL		9
#define SIGSEGV		11

int kill(pid_t pid, int sig);

#endif /* _SIGNAL_H */
