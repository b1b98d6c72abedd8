#ifndef _UNISTD_H
#define _UNISTD_H

#include <sys/types.h>

void _exit(int status) __attribute__((noreturn));
ssize_t read(int fd, void *buf, size_t nbytes);
ssize_t write(int fd, const void *buf, size_t nbytes);
int close(int fd);
pid_t fork(void);
pid_t getpid(void);
pid_t getppid(void);
int brk(void *addr);
void *sbrk(intptr_t incr);
int execve(const char *path, char *const argv[], char *const envp[]);

#endif /* _UNISTD_H */
