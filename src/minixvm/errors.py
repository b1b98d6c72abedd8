"""Error numbers (MINIX 3, 2010 values) and the small exception hierarchy.

Inside the system, calls answer with OK or a negative errno, as in MINIX
(a handler deep in a call may raise RequestError; its dispatcher answers).
At the Python boundary (the System object and the libc of Python programs)
a failure becomes a MinixError carrying the positive errno.
"""

from __future__ import annotations

OK = 0
EPERM = 1
ENOENT = 2
ESRCH = 3
EINTR = 4
EIO = 5
ENXIO = 6
E2BIG = 7
ENOEXEC = 8
EBADF = 9
ECHILD = 10
EAGAIN = 11
ENOMEM = 12
EACCES = 13
EFAULT = 14
EBUSY = 16
EEXIST = 17
EXDEV = 18
ENODEV = 19
ENOTDIR = 20
EISDIR = 21
EINVAL = 22
ENFILE = 23
EMFILE = 24
ENOTTY = 25
ETXTBSY = 26
EFBIG = 27
ENOSPC = 28
ESPIPE = 29
EROFS = 30
EMLINK = 31
EPIPE = 32
EDOM = 33
ERANGE = 34
EDEADLK = 35
ENAMETOOLONG = 36
ENOSYS = 38
ENOTEMPTY = 39
ELOOP = 40
EOVERFLOW = 46
# MINIX-specific
ELOCKED = 101
EBADCALL = 102
EBADSRCDST = 103
ECALLDENIED = 104
EDEADSRCDST = 105
ENOTREADY = 106
EBADREQUEST = 107
ETRAPDENIED = 110
EDONTREPLY = 201

_MESSAGES = {
    EPERM: "operation not permitted",
    ENOENT: "no such file or directory",
    ESRCH: "no such process",
    EINTR: "interrupted function call",
    EIO: "input/output error",
    ENXIO: "no such device or address",
    E2BIG: "argument list too long",
    ENOEXEC: "exec format error",
    EBADF: "bad file descriptor",
    ECHILD: "no child process",
    EAGAIN: "resource temporarily unavailable",
    ENOMEM: "not enough space",
    EACCES: "permission denied",
    EFAULT: "bad address",
    EBUSY: "resource busy",
    EEXIST: "file exists",
    EXDEV: "improper link",
    ENODEV: "no such device",
    ENOTDIR: "not a directory",
    EISDIR: "is a directory",
    EINVAL: "invalid argument",
    ENFILE: "too many open files in system",
    EMFILE: "too many open files",
    ENOTTY: "inappropriate I/O control operation",
    ETXTBSY: "text file busy",
    EFBIG: "file too large",
    ENOSPC: "no space left on device",
    ESPIPE: "invalid seek",
    EROFS: "read-only file system",
    EMLINK: "too many links",
    EPIPE: "broken pipe",
    EDOM: "domain error",
    ERANGE: "result too large",
    EDEADLK: "resource deadlock avoided",
    ENAMETOOLONG: "file name too long",
    ENOSYS: "function not implemented",
    ENOTEMPTY: "directory not empty",
    ELOOP: "too many levels of indirection",
    EOVERFLOW: "value too large to be stored in data type",
    ELOCKED: "can't send message due to deadlock",
    EBADCALL: "illegal system call number",
    EBADSRCDST: "bad source or destination process",
    ECALLDENIED: "no permission for system call",
    EDEADSRCDST: "source or destination is not alive",
    ENOTREADY: "source or destination is not ready",
    EBADREQUEST: "destination cannot handle request",
    ETRAPDENIED: "IPC trap not allowed",
    EDONTREPLY: "don't reply",
}

_NAMES = {
    value: name
    for name, value in globals().items()
    if name.isupper() and name.startswith("E") and isinstance(value, int)
}


def strerror(err: int) -> str:
    """Readable text for an errno, positive or negative."""
    return _MESSAGES.get(abs(err), f"unknown error {abs(err)}")


def errname(err: int) -> str:
    """Symbolic name (``"ENOMEM"``) for an errno, positive or negative."""
    return _NAMES.get(abs(err), f"E{abs(err)}")


class MinixError(OSError):
    """A MINIX call failed; ``errno`` is the positive error number."""

    def __init__(self, err: int, what: str = "") -> None:
        err = abs(err)
        text = f"{errname(err)}: {strerror(err)}"
        super().__init__(err, f"{what}: {text}" if what else text)


def check(result: int, what: str = "") -> int:
    """Return ``result`` if it is not a negative errno, else raise MinixError."""
    if result < 0:
        raise MinixError(result, what)
    return result


class RequestError(Exception):
    """A request (a kernel call, or a request to a server) fails with
    ``errno`` (positive): its handler raises this, the one dispatcher that
    catches it answers -errno. Not a MinixError: a dispatcher must never
    turn a failure at the Python boundary, or a panic, into a reply."""

    def __init__(self, errno: int) -> None:
        super().__init__(errno)
        self.errno = errno


class KernelPanic(RuntimeError):
    """The kernel panicked: the system has stopped."""


class SystemHalted(RuntimeError):
    """The system cannot go on: nothing can run and the awaited event never came."""
