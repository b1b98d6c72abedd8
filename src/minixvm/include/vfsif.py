"""The VFS-FS protocol (MINIX 3.2 <minix/vfsif.h>): VFS's requests to a file
system server such as MFS, and their replies.

Every request is an m9 message; its reply is the same layout with the
result in m_type (OK, a byte count, or -errno) and the RES_* fields. Names
and data never travel in the message: a path, a name, a user buffer or a
struct stat goes by grant (REQ_GRANT), a direct grant of VFS's own memory
or a magic grant of the user's buffer, so the FS copies straight to and
from the user process. Inode numbers, sizes and positions are 32-bit here
(the _HI halves are zero and kept only so the slots are MINIX's).
"""

from __future__ import annotations

from minixvm.include.ipc import (
    Message,
    layout,
    m9_l1,
    m9_l2,
    m9_l3,
    m9_l4,
    m9_l5,
    m9_s1,
    m9_s2,
    m9_s3,
    m9_s4,
    register_names,
    unsigned,
)

VFS_BASE = 0xA00
REQ_PUTNODE = VFS_BASE + 2
REQ_SLINK = VFS_BASE + 3
REQ_FTRUNC = VFS_BASE + 4
REQ_CHMOD = VFS_BASE + 6
REQ_STAT = VFS_BASE + 8
REQ_UNLINK = VFS_BASE + 13
REQ_RMDIR = VFS_BASE + 14
REQ_UNMOUNT = VFS_BASE + 15
REQ_SYNC = VFS_BASE + 16
REQ_FLUSH = VFS_BASE + 18
REQ_READ = VFS_BASE + 19
REQ_WRITE = VFS_BASE + 20
REQ_MKNOD = VFS_BASE + 21
REQ_MKDIR = VFS_BASE + 22
REQ_CREATE = VFS_BASE + 23
REQ_LINK = VFS_BASE + 24
REQ_RENAME = VFS_BASE + 25
REQ_LOOKUP = VFS_BASE + 26
REQ_MOUNTPOINT = VFS_BASE + 27
REQ_READSUPER = VFS_BASE + 28
REQ_RDLINK = VFS_BASE + 30
REQ_GETDENTS = VFS_BASE + 31

register_names(globals(), "REQ_", VFS_BASE)

# REQ_FLAGS of REQ_READSUPER.
REQ_RDONLY = 0o01
REQ_ISROOT = 0o02
# REQ_FLAGS of REQ_LOOKUP.
PATH_NOFLAGS = 0o00
PATH_RET_SYMLINK = 0o10  # the last component's symlink itself, not its target

# Lookup results that are not errors: VFS continues the walk itself, with
# the path as the buffer now holds it (RES_OFFSET indexes that buffer).
EENTERMOUNT = -301  # RES_INODE_NR is a mount point; RES_OFFSET: where the rest begins
ELEAVEMOUNT = -302  # ".." at a mounted FS's root; RES_OFFSET: where ".." begins
ESYMLINK = -303  # an absolute symlink: the buffer holds the new, absolute, path

# How many symlinks a lookup follows before ELOOP (MINIX SYMLOOP_MAX).
SYMLOOP_MAX = 16
# The root inode of a MINIX file system.
ROOT_INODE = 1


@layout(REQ_READSUPER)
class ReqReadsuper(Message):
    """Mount the device: the FS reads and checks its superblock. The driver
    is named by its DS label (a string by grant), so the FS can find the
    driver again after a restart. The reply's ``res_flags`` has REQ_RDONLY
    if the FS mounted read-only though asked for read-write (an unclean
    FS): VFS then refuses writes itself (EROFS at open)."""

    grant = m9_l2  # REQ_GRANT: the driver's label
    path_len = m9_s2  # REQ_PATH_LEN: the label's length, NUL included
    flags = m9_s3  # REQ_FLAGS: REQ_RDONLY, REQ_ISROOT
    dev = m9_l5  # REQ_DEV
    # reply: the root inode
    inode = m9_l1  # RES_INODE_NR
    size_hi = m9_l2  # RES_FILE_SIZE_HI
    size = m9_l3  # RES_FILE_SIZE_LO
    mode = unsigned(m9_s2)  # RES_MODE
    uid = m9_s4  # RES_UID
    gid = m9_s1  # RES_GID
    conreqs = m9_s3  # RES_CONREQS: 1 (one request at a time)
    res_flags = m9_l5  # RES_FLAGS (not MINIX 3.2's): REQ_RDONLY


@layout(REQ_UNMOUNT, REQ_SYNC)
class ReqNoArgs(Message):
    """REQ_UNMOUNT (write everything back, set the clean flag) and REQ_SYNC."""


@layout(REQ_FLUSH)
class ReqFlush(Message):
    dev = m9_l5  # REQ_DEV


@layout(REQ_LOOKUP)
class ReqLookup(Message):
    """Walk the path in VFS's buffer (read-write grant) from dir_ino.

    OK: RES_INODE_NR etc. name the inode found (one more reference to it
    for VFS). A relative symlink is spliced into the buffer and followed
    in the FS; an absolute one ends the request with ESYMLINK, the buffer
    holding its target and the rest of the path. Reaching a directory
    marked by REQ_MOUNTPOINT (the last component too) ends it with
    EENTERMOUNT: VFS goes on in the mounted FS's root (a walk that starts
    at a mount point, VFS coming back up, takes ".." there instead). ".."
    at root_ino stays there; at the root of an FS mounted without
    REQ_ISROOT it ends the request with ELEAVEMOUNT. PATH_RET_SYMLINK: a
    symlink as the last component is the answer itself, not followed.
    RES_SYMLOOP: the symlinks followed in this request (an ESYMLINK's
    included), ELOOP past SYMLOOP_MAX. Each directory needs search (X)
    permission for uid/gid; a component over 60 bytes is ENAMETOOLONG, a
    non-directory before the end ENOTDIR."""

    grant = m9_l2  # REQ_GRANT: the path buffer
    path_len = m9_s2  # REQ_PATH_LEN: the path's length, NUL included
    path_size = m9_l5  # REQ_PATH_SIZE: the buffer's size
    dir_ino = m9_l3  # REQ_DIR_INO: where the walk starts
    root_ino = m9_l4  # REQ_ROOT_INO: the process's root if on this FS, else 0
    flags = m9_s3  # REQ_FLAGS: PATH_RET_SYMLINK
    uid = m9_s4  # REQ_UID
    gid = m9_s1  # REQ_GID
    # reply
    inode = m9_l1  # RES_INODE_NR
    size_hi = m9_l2  # RES_FILE_SIZE_HI
    size = m9_l3  # RES_FILE_SIZE_LO
    dev = m9_l4  # RES_DEV: a special file's device number
    mode = unsigned(m9_s2)  # RES_MODE
    offset = m9_s2  # RES_OFFSET (EENTERMOUNT, ELEAVEMOUNT)
    symloop = m9_s3  # RES_SYMLOOP: symlinks followed in this request
    res_uid = m9_s4  # RES_UID
    res_gid = m9_s1  # RES_GID


@layout(REQ_PUTNODE)
class ReqPutnode(Message):
    """VFS drops ``count`` references to an inode (an unlinked inode with no
    links left is freed at its last reference)."""

    inode = m9_l1  # REQ_INODE_NR
    count = m9_l2  # REQ_COUNT


@layout(REQ_CREATE, REQ_MKDIR, REQ_MKNOD)
class ReqCreate(Message):
    """Make ``name`` in directory ``inode``: a regular file (CREATE, which
    also opens it: the reply names the new inode), a directory (MKDIR), a
    special file (MKNOD, with ``dev``)."""

    inode = m9_l1  # REQ_INODE_NR: the directory
    grant = m9_l2  # REQ_GRANT: the name
    path_len = m9_s2  # REQ_PATH_LEN
    mode = unsigned(m9_s3)  # REQ_MODE: type and permission bits
    uid = m9_s4  # REQ_UID
    gid = m9_s1  # REQ_GID
    dev = m9_l5  # REQ_DEV (MKNOD)
    # reply (CREATE)
    res_inode = m9_l1  # RES_INODE_NR
    size = m9_l3  # RES_FILE_SIZE_LO
    res_dev = m9_l4  # RES_DEV
    res_mode = unsigned(m9_s2)  # RES_MODE


@layout(REQ_UNLINK, REQ_RMDIR)
class ReqUnlink(Message):
    inode = m9_l1  # REQ_INODE_NR: the directory
    grant = m9_l2  # REQ_GRANT: the name
    path_len = m9_s2  # REQ_PATH_LEN


@layout(REQ_LINK)
class ReqLink(Message):
    """A new name ``grant`` in directory ``dir_ino`` for inode ``inode``."""

    inode = m9_l1  # REQ_INODE_NR: the file
    grant = m9_l2  # REQ_GRANT: the new name
    dir_ino = m9_l3  # REQ_DIR_INO
    path_len = m9_s2  # REQ_PATH_LEN


@layout(REQ_RENAME)
class ReqRename(Message):
    new_grant = m9_l1  # REQ_REN_GRANT_NEW
    old_grant = m9_l2  # REQ_REN_GRANT_OLD
    old_dir = m9_l3  # REQ_REN_OLD_DIR
    new_dir = m9_l4  # REQ_REN_NEW_DIR
    old_len = m9_s1  # REQ_REN_LEN_OLD
    new_len = m9_s2  # REQ_REN_LEN_NEW


@layout(REQ_SLINK)
class ReqSlink(Message):
    """A symlink ``grant`` in directory ``inode`` whose contents are the
    ``mem_size`` bytes of ``target_grant``."""

    inode = m9_l1  # REQ_INODE_NR: the directory
    grant = m9_l2  # REQ_GRANT: the link's name
    target_grant = m9_l3  # REQ_GRANT3: what it points to
    mem_size = m9_l5  # REQ_MEM_SIZE: the target's length (no NUL)
    path_len = m9_s2  # REQ_PATH_LEN
    uid = m9_s4  # REQ_UID
    gid = m9_s1  # REQ_GID


@layout(REQ_RDLINK)
class ReqRdlink(Message):
    inode = m9_l1  # REQ_INODE_NR
    grant = m9_l2  # REQ_GRANT: the caller's buffer
    mem_size = m9_l5  # REQ_MEM_SIZE: the buffer's size
    # reply: OK, and the bytes copied (at most mem_size, no NUL added)
    nbytes = m9_l5  # RES_NBYTES


@layout(REQ_READ, REQ_WRITE)
class ReqReadWrite(Message):
    """Move up to ``nbytes`` between the file at ``pos`` and the grant; the
    reply: OK, the position after the transfer and the bytes moved (fewer
    at the end of the file). A failing copy fails the request with its
    error (EFAULT)."""

    inode = m9_l1  # REQ_INODE_NR
    grant = m9_l2  # REQ_GRANT: the user's buffer (a magic grant)
    pos_hi = m9_l3  # REQ_SEEK_POS_HI
    pos = m9_l4  # REQ_SEEK_POS_LO
    nbytes = m9_l5  # REQ_NBYTES
    # reply: RES_SEEK_POS_* (pos_hi, pos) and RES_NBYTES (nbytes)


@layout(REQ_GETDENTS)
class ReqGetdents(Message):
    """struct dirent records from directory position ``pos`` into the user's
    buffer; the reply: OK, the bytes filled (0 at the end) and ``pos``,
    where the next call goes on. EINVAL if not even one record fits."""

    inode = m9_l1  # REQ_INODE_NR
    grant = m9_l2  # REQ_GRANT
    pos_hi = m9_l3  # REQ_SEEK_POS_HI
    pos = m9_l4  # REQ_SEEK_POS_LO
    mem_size = m9_l5  # REQ_MEM_SIZE
    # reply
    nbytes = m9_l5  # RES_NBYTES


@layout(REQ_FTRUNC)
class ReqFtrunc(Message):
    """Free [start, end) of the file (end 0: truncate the file to ``start``)."""

    inode = m9_l1  # REQ_INODE_NR
    start_hi = m9_l2  # REQ_TRC_START_HI
    start = m9_l3  # REQ_TRC_START_LO
    end_hi = m9_l4  # REQ_TRC_END_HI
    end = m9_l5  # REQ_TRC_END_LO


@layout(REQ_STAT)
class ReqStat(Message):
    """The new (NetBSD) struct stat of ``inode`` into ``grant``."""

    inode = m9_l1  # REQ_INODE_NR
    grant = m9_l2  # REQ_GRANT


@layout(REQ_CHMOD)
class ReqChmod(Message):
    inode = m9_l1  # REQ_INODE_NR
    mode = unsigned(m9_s3)  # REQ_MODE
    res_mode = unsigned(m9_s2)  # RES_MODE


@layout(REQ_MOUNTPOINT)
class ReqMountpoint(Message):
    """Mark ``inode`` as a mount point (EBUSY if it is one, ENOTDIR if it is
    not a directory): lookups stop there with EENTERMOUNT."""

    inode = m9_l1  # REQ_INODE_NR
