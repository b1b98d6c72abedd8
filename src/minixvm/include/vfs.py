"""VFS requests of user programs (MINIX 3.2 <minix/callnr.h>, the libc's
message slots), PM's requests to VFS and their replies (<minix/com.h>
PM_RQ_BASE/PM_RS_BASE, named VFS_PM_* as MINIX 3.3 names them, since the
user calls here already own the PM_* names), and the flags of open and
fcntl.

A user call's reply has its result in m_type: bytes transferred, a file
descriptor, OK, or -errno; LSEEK's new position comes back in ``offset``.
A name travels by address and length (``name``, ``name_len``, the NUL
counted); a name of at most M3_STRING bytes is also copied into the
message itself (m3_ca1), as libc's _loadname does, and VFS takes it from
there.
"""

from __future__ import annotations

from minixvm.include.ipc import (
    Message,
    layout,
    m1_i1,
    m1_i2,
    m1_i3,
    m1_p1,
    m1_p2,
    m1_p3,
    m2_i1,
    m2_i2,
    m2_l1,
    m2_p1,
    m3_ca1,
    m3_i1,
    m3_i2,
    m3_p1,
    m7_i1,
    m7_i2,
    m7_i3,
    m7_i4,
    m7_p1,
    m7_p2,
    register_names,
    unsigned,
)

READ = 3
WRITE = 4
OPEN = 5
CLOSE = 6
CREAT = 8
LINK = 9
UNLINK = 10
CHDIR = 12
MKNOD = 14
CHMOD = 15
PREV_STAT = 18
LSEEK = 19
MOUNT = 21
UMOUNT = 22
PREV_FSTAT = 28
SYNC = 36
RENAME = 38
MKDIR = 39
RMDIR = 40
DUP = 41
SYMLINK = 45
RDLNK = 49
PREV_LSTAT = 50
STAT = 51
FSTAT = 52
LSTAT = 53
FCNTL = 55
# The numbers STAT, FSTAT and LSTAT had until 3.2.0 renumbered them
# (c89aaf7a8); VFS still answers them.
STAT_O = 65
FSTAT_O = 66
LSTAT_O = 67
GETDENTS = 80
TRUNCATE = 93
FTRUNCATE = 94

for _name in ("READ", "WRITE", "OPEN", "CLOSE", "CREAT", "LINK", "UNLINK", "CHDIR", "MKNOD",
              "CHMOD", "PREV_STAT", "LSEEK", "MOUNT", "UMOUNT", "PREV_FSTAT", "SYNC", "RENAME",
              "MKDIR", "RMDIR", "DUP", "SYMLINK", "RDLNK", "PREV_LSTAT", "STAT", "FSTAT",
              "LSTAT", "FCNTL", "STAT_O", "FSTAT_O", "LSTAT_O", "GETDENTS", "TRUNCATE",
              "FTRUNCATE"):
    register_names(globals(), _name, globals()[_name], 1)

# PM -> VFS, and VFS's answers.
PM_RQ_BASE = 0x900
PM_RS_BASE = 0x980
VFS_PM_EXIT = PM_RQ_BASE + 4
VFS_PM_EXEC = PM_RQ_BASE + 6
VFS_PM_FORK = PM_RQ_BASE + 7
VFS_PM_REBOOT = PM_RQ_BASE + 10
VFS_PM_EXIT_REPLY = PM_RS_BASE + 4
VFS_PM_EXEC_REPLY = PM_RS_BASE + 6
VFS_PM_FORK_REPLY = PM_RS_BASE + 7
VFS_PM_REBOOT_REPLY = PM_RS_BASE + 10
register_names(globals(), "VFS_PM_", PM_RQ_BASE, 0x100)

# The descriptors a process starts with: the console.
STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO = 0, 1, 2
# A name up to this long rides in the message (libc's _loadname).
M3_STRING = 16
# The longest path, its NUL included (<limits.h> PATH_MAX).
PATH_MAX = 255
# Open files per process (MINIX OPEN_MAX).
OPEN_MAX = 64

# open's flags (<fcntl.h>, octal, as Linux's).
O_RDONLY, O_WRONLY, O_RDWR, O_ACCMODE = 0, 1, 2, 3
O_CREAT = 0o100
O_EXCL = 0o200
O_NOCTTY = 0o400
O_TRUNC = 0o1000
O_APPEND = 0o2000
O_NONBLOCK = 0o4000
# fcntl's commands and the descriptor flag.
F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL = 0, 1, 2, 3, 4
FD_CLOEXEC = 1
# DUP's m1_i1 carries this bit for dup2 (MINIX DUP_MASK).
DUP_MASK = 0o100
# MOUNT's flags (<sys/mount.h>).
MS_RDONLY = 0o01
# lseek's whence.
SEEK_SET, SEEK_CUR, SEEK_END = 0, 1, 2

# File types and permission bits (<sys/stat.h>).
S_IFMT = 0o170000
S_IFREG = 0o100000
S_IFDIR = 0o040000
S_IFCHR = 0o020000
S_IFBLK = 0o060000
S_IFIFO = 0o010000
S_IFLNK = 0o120000
S_ISUID = 0o4000
S_ISGID = 0o2000
S_ISVTX = 0o1000
ALL_MODES = 0o7777
X_BIT, W_BIT, R_BIT = 1, 2, 4


@layout(READ, WRITE)
class VfsReadWrite(Message):
    fd = m1_i1
    nbytes = m1_i2
    buffer = m1_p1  # in the caller's memory


@layout(CLOSE)
class VfsClose(Message):
    fd = m1_i1


@layout(OPEN, CREAT, UNLINK, RMDIR, CHDIR, CHMOD)
class VfsName(Message):
    """A call on one name, in libc's m3 form: OPEN without O_CREAT (``flags``),
    CREAT and CHMOD (``mode`` in the same slot), UNLINK, RMDIR, CHDIR. An
    OPEN with O_CREAT is in the m1 form of ``VfsOpenCreat`` instead: VFS
    looks at ``flags`` (the same slot in both) to tell."""

    name_len = m3_i1  # strlen + 1
    flags = m3_i2  # OPEN's flags; CREAT's and CHMOD's mode
    mode = m3_i2
    name = unsigned(m3_p1)
    name_copy = m3_ca1  # the name itself, if name_len <= M3_STRING


class VfsOpenCreat(Message):
    """OPEN with O_CREAT (m1 form; not registered: OPEN's layout is VfsName)."""

    name_len = m1_i1
    flags = m1_i2
    mode = m1_i3
    name = unsigned(m1_p1)


@layout(MKDIR, MKNOD)
class VfsMkdir(Message):
    name_len = m1_i1
    mode = m1_i2
    dev = m1_i3  # MKNOD: the device number
    name = unsigned(m1_p1)


@layout(LINK, RENAME, SYMLINK)
class VfsTwoNames(Message):
    """LINK(name1 -> new name2), RENAME(name1 to name2), SYMLINK(name2 is a
    new link whose contents are name1)."""

    name1_len = m1_i1
    name2_len = m1_i2
    name1 = unsigned(m1_p1)
    name2 = unsigned(m1_p2)


@layout(RDLNK)
class VfsReadlink(Message):
    name_len = m1_i1
    bufsize = m1_i2
    name = unsigned(m1_p1)
    buffer = unsigned(m1_p2)


@layout(STAT, LSTAT, PREV_STAT, PREV_LSTAT, STAT_O, LSTAT_O)
class VfsStat(Message):
    name_len = m1_i1
    name = unsigned(m1_p1)
    buffer = unsigned(m1_p2)  # struct stat (or minix_prev_stat) in the caller


@layout(FSTAT, PREV_FSTAT, FSTAT_O)
class VfsFstat(Message):
    fd = m1_i1
    buffer = unsigned(m1_p1)


@layout(LSEEK)
class VfsLseek(Message):
    fd = m2_i1
    offset = m2_l1  # reply: the new position
    whence = m2_i2


@layout(DUP)
class VfsDup(Message):
    fd = m1_i1  # with DUP_MASK: dup2(fd & ~DUP_MASK, fd2)
    fd2 = m1_i2


@layout(FCNTL)
class VfsFcntl(Message):
    fd = m1_i1
    cmd = m1_i2
    arg = m1_i3


@layout(GETDENTS)
class VfsGetdents(Message):
    fd = m1_i1
    nbytes = m1_i2
    buffer = unsigned(m1_p1)


@layout(TRUNCATE, FTRUNCATE)
class VfsTruncate(Message):
    fd = m2_i1  # FTRUNCATE; TRUNCATE: the name's length
    name_len = m2_i1
    length = m2_l1
    name = unsigned(m2_p1)  # TRUNCATE


@layout(MOUNT)
class VfsMount(Message):
    """MOUNT (MINIX 3.2's libc): the file system on block device ``special``
    on directory ``name``, served by the already running FS process whose
    DS label is the string at ``label``."""

    special_len = m1_i1
    name_len = m1_i2
    flags = m1_i3  # MS_RDONLY
    special = unsigned(m1_p1)
    name = unsigned(m1_p2)
    label = unsigned(m1_p3)


@layout(UMOUNT)
class VfsUmount(Message):
    """UMOUNT of a mount point or its block device."""

    name_len = m1_i1
    name = unsigned(m1_p1)
    label = m3_ca1  # reply: the FS's label, so that the caller can stop it


@layout(SYNC)
class VfsSync(Message):
    """No fields."""


@layout(VFS_PM_EXEC, VFS_PM_EXEC_REPLY)
class VfsPmExec(Message):
    """PM forwards a user's EXEC to VFS (PM_EXEC); VFS answers PM_EXEC_REPLY
    once the new image is loaded (or the exec failed)."""

    endpoint = m7_i1  # PM_PROC
    path = unsigned(m7_p1)  # PM_PATH, in the process's memory
    path_len = m7_i2  # PM_PATH_LEN
    frame = unsigned(m7_p2)  # PM_FRAME
    frame_len = m7_i3  # PM_FRAME_LEN
    flags = m7_i4  # PM_EXECFLAGS
    # reply
    status = m7_i2  # PM_STATUS
    pc = unsigned(m7_p1)  # PM_PC
    sp = unsigned(m7_p2)  # PM_NEWSP
    # Not MINIX's: the failure came after the old image was wiped, so PM
    # must kill the process (MINIX returned into an empty address space).
    partial = m7_i4


@layout(VFS_PM_FORK, VFS_PM_FORK_REPLY)
class VfsPmFork(Message):
    """A child was made: VFS copies the parent's descriptors, cwd and root."""

    endpoint = m7_i1  # PM_PROC: the parent (the reply: the child)
    child = m7_i2  # PM_CPROC
    child_pid = m7_i3  # PM_CPID


@layout(VFS_PM_EXIT, VFS_PM_EXIT_REPLY)
class VfsPmExit(Message):
    """A process is gone: VFS closes its descriptors."""

    endpoint = m7_i1  # PM_PROC


@layout(VFS_PM_REBOOT, VFS_PM_REBOOT_REPLY)
class VfsPmReboot(Message):
    """The system stops: VFS writes back and unmounts every file system."""
