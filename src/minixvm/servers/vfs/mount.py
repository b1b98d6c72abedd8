"""Mounted file systems (MINIX vfs/vmnt.c, mount.c).

At start VFS mounts the root file system: REQ_READSUPER with REQ_ISROOT
to MFS, naming the block driver by its DS label. If that fails VFS runs
on without a root (every call on a path is ENOENT; the console still
works) and says so on the console once.

MOUNT puts another file system, served by an FS process already running
(its DS label comes with the call, as MINIX 3.2's libc starts the server
first), on a directory: the directory's FS marks it (REQ_MOUNTPOINT), so
lookups stop there with EENTERMOUNT. UMOUNT takes it off again if
nothing on it is in use but its root, and answers the FS's label so
that the caller can stop the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from minixvm.errors import EBUSY, EINVAL, ENODEV, ENOTDIR, ENXIO, EPERM, OK, RequestError, errname
from minixvm.include.ds import DS_MAX_KEYLEN
from minixvm.include.grant import CPF_READ
from minixvm.include.ipc import Message
from minixvm.include.vfs import MS_RDONLY, VfsMount, VfsUmount
from minixvm.include.vfsif import (
    REQ_ISROOT,
    REQ_RDONLY,
    REQ_UNMOUNT,
    ReqMountpoint,
    ReqNoArgs,
    ReqReadsuper,
)
from minixvm.lib.ds import ds_retrieve_label_num
from minixvm.servers.vfs.dmap import dev_of_label, dmap_of
from minixvm.servers.vfs.fproc import FProc
from minixvm.servers.vfs.path import fetch_name, lookup
from minixvm.servers.vfs.protect import SU_UID
from minixvm.servers.vfs.request import call, check, grant_own
from minixvm.servers.vfs.vnode import Vnode

if TYPE_CHECKING:
    from minixvm.servers.vfs.main import VFS

# A label's longest length, its NUL included (DS_MAX_KEYLEN).
LABEL_MAX = DS_MAX_KEYLEN
ROOT_FS_LABEL = "mfs"


@dataclass(eq=False)
class Vmnt:
    """One mounted file system."""

    fs_e: int  # the file server
    dev: int  # its device number
    label: str  # the block driver's DS label
    root: Vnode  # its root directory (held)
    mounted_on: Vnode | None  # the directory it covers (held); None: the root FS
    readonly: bool
    fs_label: str  # the file server's DS label


def mount_root(vfs: VFS, fs_e: int, label: str, readonly: bool) -> Vmnt | None:
    """Mount file server ``fs_e`` on the device of driver ``label`` as the
    root file system: the mount, or None (after a console line saying why)."""
    dev = dev_of_label(label)
    try:
        if dev is None:
            raise RequestError(EINVAL)
        root, readonly = req_readsuper(vfs, fs_e, label, dev, REQ_ISROOT, readonly)
    except RequestError as e:
        vfs.sys.printf("vfs: cannot mount the root file system on %r: %s; no files\n", label,
                       errname(e.errno))
        return None
    vmnt = Vmnt(fs_e, dev, label, root, None, readonly, ROOT_FS_LABEL)
    vfs.mounts.append(vmnt)
    return vmnt


def req_readsuper(vfs: VFS, fs_e: int, label: str, dev: int, flags: int,
                  readonly: bool) -> tuple[Vnode, bool]:
    """REQ_READSUPER: FS ``fs_e`` mounts the device of driver ``label``
    (``flags`` REQ_ISROOT or 0); its root (held), and whether the mount
    is read-only (asked for, or the FS's choice)."""
    raw = label.encode() + b"\0"
    if len(raw) > LABEL_MAX:
        raise RequestError(EINVAL)
    vfs.sys.mem_write(vfs.label_buf, raw)
    with grant_own(vfs.sys, fs_e, vfs.label_buf, len(raw), CPF_READ) as g:
        reply = call(vfs.sys, fs_e, ReqReadsuper(
            grant=g, path_len=len(raw), flags=flags | (REQ_RDONLY if readonly else 0), dev=dev))
    check(reply.m_type)
    root = vfs.vnodes.found(fs_e, dev, reply.inode, reply.mode, reply.size, reply.uid,
                            reply.gid)
    if not root.is_dir():
        vfs.vnodes.put(root)
        raise RequestError(EINVAL)
    return root, readonly or bool(reply.res_flags & REQ_RDONLY)


def do_mount(vfs: VFS, fp: FProc, m: Message) -> int:
    """MOUNT: the file system on block device ``special``, served by the FS
    labelled ``label``, on directory ``name``."""
    req = VfsMount.view(m.buf)
    if fp.uid != SU_UID:
        raise RequestError(EPERM)
    special = fetch_name(vfs, fp.endpoint, req.special, req.special_len)
    name = fetch_name(vfs, fp.endpoint, req.name, req.name_len)
    fs_label = fetch_label(vfs, fp, req.label)
    r, fs_e = ds_retrieve_label_num(vfs.sys, fs_label)
    check(r)
    dev = block_dev(vfs, fp, special)
    driver = dmap_of(dev)
    if driver is None:
        raise RequestError(ENXIO)
    if vfs.vmnt_of(fs_e) is not None or any(v.dev == dev for v in vfs.mounts):
        raise RequestError(EBUSY)
    mp = lookup(vfs, fp, name)
    try:
        if not mp.is_dir():
            raise RequestError(ENOTDIR)
        if mp.mounted is not None or any(v.root is mp for v in vfs.mounts):
            raise RequestError(EBUSY)
        check(call(vfs.sys, mp.fs_e, ReqMountpoint(inode=mp.inode)).m_type)
        root, readonly = req_readsuper(vfs, fs_e, driver.label, dev, 0,
                                       bool(req.flags & MS_RDONLY))
    except RequestError:
        vfs.vnodes.put(mp)
        raise
    mp.mounted = Vmnt(fs_e, dev, driver.label, root, mp, readonly, fs_label)
    vfs.mounts.append(mp.mounted)
    return OK


def fetch_label(vfs: VFS, fp: FProc, addr: int) -> str:
    """The label string at ``addr`` in the caller's memory (at most
    LABEL_MAX bytes, as MINIX copies it)."""
    check(vfs.sys.sys_vircopy(fp.endpoint, addr, vfs.sys.endpoint, vfs.label_buf, LABEL_MAX))
    raw = vfs.sys.mem_read(vfs.label_buf, LABEL_MAX)
    if 0 not in raw or raw[0] == 0:
        raise RequestError(EINVAL)
    return raw.split(b"\0", 1)[0].decode("latin-1")


def block_dev(vfs: VFS, fp: FProc, path: bytes) -> int:
    """The device number of the block special file ``path`` (ENODEV if it
    is not one)."""
    vp = lookup(vfs, fp, path)
    vfs.vnodes.put(vp)
    if not vp.is_blk():
        raise RequestError(ENODEV)
    return vp.sdev


def do_umount(vfs: VFS, fp: FProc, m: Message) -> Message:
    """UMOUNT of a mount point, or of the block device mounted there: the
    FS's label in the reply. EBUSY while anything on it is in use."""
    req = VfsUmount.view(m.buf)
    if fp.uid != SU_UID:
        raise RequestError(EPERM)
    vp = lookup(vfs, fp, fetch_name(vfs, fp.endpoint, req.name, req.name_len))
    vfs.vnodes.put(vp)
    vmnt = next((v for v in vfs.mounts
                 if v.root is vp or (vp.is_blk() and v.dev == vp.sdev)), None)
    if vmnt is None:
        raise RequestError(EINVAL)
    if vmnt.mounted_on is None or vmnt.root.refs > 1 or any(
            v.fs_e == vmnt.fs_e and v is not vmnt.root for v in vfs.vnodes.nodes.values()):
        raise RequestError(EBUSY)
    # The FS forgets every inode at REQ_UNMOUNT: the root's references go with it.
    vfs.vnodes.nodes.pop((vmnt.fs_e, vmnt.root.inode), None)
    call(vfs.sys, vmnt.fs_e, ReqNoArgs(REQ_UNMOUNT))
    vfs.mounts.remove(vmnt)
    vmnt.mounted_on.mounted = None
    vfs.vnodes.put(vmnt.mounted_on)
    return VfsUmount(OK, label=vmnt.fs_label)


def unmount_all(vfs: VFS) -> None:
    """At reboot: every file system, the last mounted first, writes back
    everything and is unmounted (MFS sets its clean flag). Whatever VFS
    still holds of them is dropped: the FS has forgotten it."""
    for vmnt in reversed(vfs.mounts):
        call(vfs.sys, vmnt.fs_e, ReqNoArgs(REQ_UNMOUNT))
        for key in [k for k in vfs.vnodes.nodes if k[0] == vmnt.fs_e]:
            del vfs.vnodes.nodes[key]
        if vmnt.mounted_on is not None:
            vmnt.mounted_on.mounted = None
    vfs.mounts.clear()
    vfs.root = None
