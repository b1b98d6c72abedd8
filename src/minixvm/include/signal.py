"""Signal numbers and wait-status helpers (<signal.h>, <sys/wait.h>)."""

from __future__ import annotations

SIGHUP = 1
SIGINT = 2
SIGQUIT = 3
SIGILL = 4
SIGTRAP = 5
SIGABRT = 6
SIGBUS = 7
SIGFPE = 8
SIGKILL = 9
SIGUSR1 = 10
SIGSEGV = 11
SIGUSR2 = 12
SIGPIPE = 13
SIGALRM = 14
SIGTERM = 15
SIGCHLD = 17
_NSIG = 32

SIGNAMES = {
    SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL",
    SIGTRAP: "SIGTRAP", SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE",
    SIGKILL: "SIGKILL", SIGUSR1: "SIGUSR1", SIGSEGV: "SIGSEGV", SIGUSR2: "SIGUSR2",
    SIGPIPE: "SIGPIPE", SIGALRM: "SIGALRM", SIGTERM: "SIGTERM", SIGCHLD: "SIGCHLD",
}

WNOHANG = 1
WUNTRACED = 2


def W_EXITCODE(code: int, sig: int = 0) -> int:  # noqa: N802
    """Encode a wait status as POSIX does: exit code in bits 8..15, signal in 0..6."""
    return ((code & 0xFF) << 8) | (sig & 0x7F)


def WIFEXITED(status: int) -> bool:  # noqa: N802
    return status & 0x7F == 0


def WEXITSTATUS(status: int) -> int:  # noqa: N802
    return (status >> 8) & 0xFF


def WIFSIGNALED(status: int) -> bool:  # noqa: N802
    return status & 0x7F != 0


def WTERMSIG(status: int) -> int:  # noqa: N802
    return status & 0x7F


def returncode(status: int) -> int:
    """A wait status as Python's subprocess reports it: the exit code, or -signal."""
    return -WTERMSIG(status) if WIFSIGNALED(status) else WEXITSTATUS(status)
