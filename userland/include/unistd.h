#ifndef _UNISTD_H
#define _UNISTD_H

#include <sys/types.h>

#define STDIN_FILENO	0
#define STDOUT_FILENO	1
#define STDERR_FILENO	2

#define SEEK_SET	0
#define SEEK_CUR	1
#define SEEK_END	2

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
off_t lseek(int fd, off_t offset, int whence);
int dup(int fd);
int dup2(int fd, int fd2);
int link(const char *path1, const char *path2);
int unlink(const char *path);
int symlink(const char *target, const char *path);
ssize_t readlink(const char *path, char *buf, size_t bufsize);
int rmdir(const char *path);
int chdir(const char *path);
int truncate(const char *path, off_t length);
int ftruncate(int fd, off_t length);
void sync(void);

#endif /* _UNISTD_H */
