/* What the library's call wrappers share (MINIX's <lib.h>). */
#ifndef _LIB_H
#define _LIB_H

#include <minix/callnr.h>
#include <minix/com.h>
#include <minix/ipc.h>

int _syscall(endpoint_t who, int syscallnr, message *msgptr);
void _loadname(const char *name, message *msgptr);

#endif /* _LIB_H */
