"""READSUPER, UNMOUNT and MOUNTPOINT (MINIX servers/mfs/mount.c).

READSUPER: the driver is named by its DS label (by grant); MFS finds its
endpoint through DS, opens the device (read-only if asked), reads and
checks the superblock (EINVAL for anything it cannot mount), sets up its
cache and answers the root inode. MINIX's mount rule for the clean flag:
a read-write mount of a file system not unmounted cleanly becomes
read-only (with a warning); otherwise the flag is cleared on disk while
the file system is mounted and set again at UNMOUNT, after everything
else was written.
"""

from __future__ import annotations

from math import isqrt
from typing import TYPE_CHECKING

from minixvm.errors import EBUSY, EINVAL, ENOTDIR, OK, RequestError
from minixvm.include.bdev import BDEV_R_BIT, BDEV_W_BIT
from minixvm.include.com import SELF
from minixvm.include.ds import DS_MAX_KEYLEN
from minixvm.include.mfs import MFSFLAG_CLEAN, START_BLOCK, Superblock
from minixvm.include.vfsif import (
    REQ_ISROOT,
    REQ_RDONLY,
    ROOT_INODE,
    ReqMountpoint,
    ReqNoArgs,
    ReqReadsuper,
)
from minixvm.include.vm import VM_FORGETBLOCKS, VM_INFO, VMIW_STATS, VMStatsInfo
from minixvm.lib.bdev import BdevDriver
from minixvm.lib.ds import ds_retrieve_label_num
from minixvm.servers.mfs.cache import BUF_SIZE, Cache
from minixvm.servers.mfs.const import BULK_BUF, MEMORY_MAJOR, MIN_BUFS, SUPER_BUF
from minixvm.servers.mfs.inode import find_inode, get_inode, put_inode
from minixvm.servers.mfs.misc import sync
from minixvm.servers.mfs.path import copy_in
from minixvm.servers.mfs.super import read_super, write_super

if TYPE_CHECKING:
    from minixvm.servers.mfs.main import MFS, Volume


def do_readsuper(fs: MFS, m: ReqReadsuper) -> ReqReadsuper:
    """REQ_READSUPER: mount the device; the root inode, held for VFS."""
    from minixvm.servers.mfs.main import Volume

    if fs.mounted is not None:
        raise RequestError(EBUSY)
    if not 1 < m.path_len <= DS_MAX_KEYLEN:
        raise RequestError(EINVAL)
    raw = copy_in(fs, m.grant, SUPER_BUF, m.path_len)
    if raw[-1] != 0:
        raise RequestError(EINVAL)
    label = raw.split(b"\0", 1)[0].decode("latin-1")
    r, endpoint = ds_retrieve_label_num(fs.sys, label)
    if r != OK:
        raise RequestError(EINVAL)
    driver = BdevDriver(fs.sys, label, endpoint)
    readonly = bool(m.flags & REQ_RDONLY)
    dev, minor = m.dev, m.dev & 0xFF
    if driver.open(minor, BDEV_R_BIT | (0 if readonly else BDEV_W_BIT)) != OK:
        raise RequestError(EINVAL)
    try:
        sb, super_raw = read_super(fs, driver, minor)
        use_vm = (fs.options.vm_cache and dev >> 8 != MEMORY_MAJOR
                  and fs.sys.vm_call(VM_FORGETBLOCKS).m_type == OK)
        nbufs = fs.options.cache_blocks or bufs_heuristic(fs, driver, sb, dev)
        cache = Cache(fs.sys, fs.stats, driver, dev, sb.block_size, max(nbufs, 1), use_vm)
        fs.mounted = Volume(driver, dev, sb, super_raw, readonly, bool(m.flags & REQ_ISROOT),
                         cache)
        root = get_inode(fs, ROOT_INODE)
        if not root.is_dir():
            put_inode(fs, root)
            raise RequestError(EINVAL)
        apply_clean_rule(fs, fs.mounted)
    except RequestError:
        if fs.mounted is not None:
            fs.inodes.clear()
            fs.mounted.cache.close()
            fs.mounted = None
        driver.close(minor)
        raise RequestError(EINVAL) from None
    d = root.d
    # VFS learns of a mount made read-only by the clean rule (res_flags).
    return ReqReadsuper(OK, inode=ROOT_INODE, size=d.size, mode=d.mode, uid=d.uid, gid=d.gid,
                        conreqs=1, res_flags=REQ_RDONLY if fs.vol.readonly else 0)


def apply_clean_rule(fs: MFS, vol: Volume) -> None:
    """A read-write mount of an unclean file system becomes read-only; a
    clean one is marked not clean on disk while mounted."""
    if vol.readonly:
        return
    if not vol.sb.flags & MFSFLAG_CLEAN:
        fs.sys.printf("mfs: WARNING: FS 0x%x unclean, mounting readonly\n", vol.dev)
        vol.readonly = True
        return
    vol.sb.flags &= ~MFSFLAG_CLEAN
    write_super(fs)


def bufs_heuristic(fs: MFS, driver: BdevDriver, sb: Superblock, dev: int) -> int:
    """MINIX fs_bufs_heuristic: buffers for at most 10% of free memory, 40
    KiB per square root of the KiB the file system uses, half the file
    system; at least MIN_BUFS (and just that for a RAM disk)."""
    if dev >> 8 == MEMORY_MAJOR:
        return MIN_BUFS
    addr = fs.scratch + SUPER_BUF
    if fs.sys.vm_call(VM_INFO, what=VMIW_STATS, endpoint=SELF, ptr=addr).m_type != OK:
        return MIN_BUFS
    info = VMStatsInfo.unpack(fs.sys.mem_read(addr, VMStatsInfo.FORMAT.size))
    free = free_zones(fs, driver, dev & 0xFF, sb)
    kb_used = (sb.zones - free) * sb.block_size // 1024
    kb_total = sb.zones * sb.block_size // 1024
    fs_bufs = min(isqrt(kb_used) * 40, kb_total // 2) * 1024 // sb.block_size
    mem_bufs = info.free_pages * info.pagesize // 10 // BUF_SIZE
    return max(MIN_BUFS, min(fs_bufs, mem_bufs))


def free_zones(fs: MFS, driver: BdevDriver, minor: int, sb: Superblock) -> int:
    """The clear bits of the zone bitmap, read straight from the disk (the
    cache is not there yet)."""
    per_block = sb.block_size * 8
    nbits = sb.zones - (sb.firstdatazone - 1)
    addr = fs.scratch + BULK_BUF
    free = 0
    for i in range(sb.zmap_blocks):
        bits = min(per_block, nbits - i * per_block)
        if bits <= 0:
            break
        pos = (START_BLOCK + sb.imap_blocks + i) * sb.block_size
        if driver.read(minor, pos, addr, sb.block_size) != sb.block_size:
            raise RequestError(EINVAL)
        fs.stats.disk_reads += 1
        used = int.from_bytes(fs.sys.mem_read(addr, sb.block_size), "little")
        free += bits - (used & (1 << bits) - 1).bit_count()
    return free


def do_unmount(fs: MFS, m: ReqNoArgs) -> int:
    """REQ_UNMOUNT: write everything back, free the files that were unlinked
    while open, mark the file system clean, let the device go."""
    vol = fs.vol
    if not vol.readonly:
        for ip in list(fs.inodes.values()):
            if ip.d.nlinks == 0:
                ip.count = 1
                put_inode(fs, ip)
        sync(fs)
        vol.sb.flags |= MFSFLAG_CLEAN
        write_super(fs)
    fs.inodes.clear()
    vol.cache.close()
    vol.driver.close(vol.dev & 0xFF)
    fs.mounted = None
    return OK


def do_mountpoint(fs: MFS, m: ReqMountpoint) -> int:
    """REQ_MOUNTPOINT: lookups stop at this directory from now on (EBUSY if
    they already do)."""
    ip = find_inode(fs, m.inode)
    if ip.mountpoint:
        raise RequestError(EBUSY)
    if not ip.is_dir():
        raise RequestError(ENOTDIR)
    ip.mountpoint = True
    return OK
