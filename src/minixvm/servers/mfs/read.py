"""READ, WRITE and GETDENTS (MINIX servers/mfs/read.c), and read_map: where
a file's byte lies on the disk.

A file's zones: NR_DZONES direct slots, then a single-indirect zone of
block_size / 4 zone numbers, then a double-indirect one; zone 0 is a hole
and reads as zeros. A zone number outside [firstdatazone, zones) is
corrupt: EIO, and nothing is read or written there.

Data moves by safecopy between the block's buffer and VFS's grant (the
user's buffer), a block at a time; a copy that fails ends the request
with its error (EFAULT). A write that runs out of space part-way answers
the bytes it wrote.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from minixvm.errors import EFBIG, EINVAL, EIO, EISDIR, ENOENT, ENOSPC, ENOTDIR, OK, RequestError
from minixvm.include.com import VFS_PROC_NR
from minixvm.include.mfs import (
    DIR_ENTRY,
    DIR_ENTRY_SIZE,
    NO_ZONE,
    NR_DZONES,
    ZONE_DOUBLE,
    ZONE_SINGLE,
    max_file_size,
)
from minixvm.include.stat import dirent_pack
from minixvm.include.vfsif import REQ_WRITE, ReqGetdents, ReqReadWrite
from minixvm.servers.mfs.cache import NO_READ, NORMAL
from minixvm.servers.mfs.const import BULK_BUF, BULK_SIZE
from minixvm.servers.mfs.inode import Inode, find_inode, touch
from minixvm.servers.mfs.super import check_zone

if TYPE_CHECKING:
    from minixvm.servers.mfs.main import MFS

NO_BLOCK = 0  # read_map: a hole (block 0 is never a file's)


def read_map(fs: MFS, ip: Inode, pos: int) -> int:
    """The block holding byte ``pos`` of ``ip``, or NO_BLOCK (a hole)."""
    sb = fs.vol.sb
    scale = sb.log_zone_size
    block_pos = pos // sb.block_size
    zone = zone_of(fs, ip, block_pos >> scale)
    if zone == NO_ZONE:
        return NO_BLOCK
    return (zone << scale) + (block_pos & (1 << scale) - 1)


def zone_of(fs: MFS, ip: Inode, index: int) -> int:
    """The file's zone number ``index`` (NO_ZONE: a hole, or past the largest file)."""
    n = fs.vol.nindirs
    zones = ip.d.zones
    if index < NR_DZONES:
        return check_zone(fs, zones[index])
    index -= NR_DZONES
    if index < n:
        return rd_indir(fs, check_zone(fs, zones[ZONE_SINGLE]), index)
    index -= n
    if index >= n * n:
        return NO_ZONE
    single = rd_indir(fs, check_zone(fs, zones[ZONE_DOUBLE]), index // n)
    return rd_indir(fs, single, index % n)


def rd_indir(fs: MFS, zone: int, index: int) -> int:
    """Entry ``index`` of indirect zone ``zone`` (NO_ZONE for none)."""
    if zone == NO_ZONE:
        return NO_ZONE
    with fs.cache.block(zone << fs.vol.sb.log_zone_size) as buf:
        raw = fs.cache.read(buf, index * 4, 4)
    return check_zone(fs, int.from_bytes(raw, "little"))


def entries(fs: MFS, dirp: Inode, start: int = 0) -> Iterator[tuple[int, int, int, bytes]]:
    """(position, block, inode, name) of each slot of directory ``dirp``
    from position ``start`` on. Each block is read whole and let go before
    its slots are given, so the caller may change the directory."""
    vol = fs.vol
    bs = vol.block_size
    end = dirp.d.size // DIR_ENTRY_SIZE * DIR_ENTRY_SIZE
    for bpos in range(start - start % bs, end, bs):
        block = read_map(fs, dirp, bpos)
        if block == NO_BLOCK:
            raise RequestError(EIO)
        with fs.cache.block(block) as buf:
            raw = fs.cache.read(buf, 0, min(bs, end - bpos))
        for i, (ino, name) in enumerate(DIR_ENTRY.iter_unpack(raw)):
            pos = bpos + i * DIR_ENTRY_SIZE
            if pos < start:
                continue
            name = name.split(b"\0", 1)[0]
            if ino and (ino > vol.sb.ninodes or not name or b"/" in name):
                raise RequestError(EIO)
            yield pos, block, ino, name


def file_limit(fs: MFS) -> int:
    """The largest file size (what the zone slots address, and s_max_size)."""
    sb = fs.vol.sb
    return min(max_file_size(sb.block_size, sb.log_zone_size), max(sb.max_size, 0))


def do_read_write(fs: MFS, m: ReqReadWrite) -> ReqReadWrite:
    """REQ_READ, REQ_WRITE: the new position and the bytes moved."""
    write = m.m_type == REQ_WRITE
    ip = find_inode(fs, m.inode)
    if write and ip.is_dir():
        raise RequestError(EISDIR)
    if not (ip.is_reg() or (ip.is_dir() and not write)):
        raise RequestError(EINVAL)
    if m.pos_hi or m.pos < 0 or m.nbytes < 0:
        raise RequestError(EINVAL)
    pos, nbytes = m.pos, m.nbytes
    if write:
        limit = file_limit(fs)
        if pos + nbytes > limit:
            if pos >= limit:
                raise RequestError(EFBIG)
            nbytes = limit - pos
    else:
        nbytes = max(0, min(nbytes, ip.d.size - pos))
    bs = fs.vol.block_size
    done = 0
    try:
        while done < nbytes:
            chunk = min(nbytes - done, bs - (pos + done) % bs)
            r = rw_chunk(fs, ip, pos + done, chunk, m.grant, done, write)
            if r != OK:
                raise RequestError(-r)
            done += chunk
    except RequestError as e:
        # Out of space part-way: what was written counts.
        if not (write and e.errno == ENOSPC and done):
            raise
    finally:
        if write and pos + done > ip.d.size:
            ip.d.size = pos + done
        if done:
            touch(fs, ip, mtime=write, ctime=write, atime=not write and not fs.vol.readonly)
    return ReqReadWrite(OK, pos=pos + done, nbytes=done)


def rw_chunk(fs: MFS, ip: Inode, pos: int, chunk: int, grant: int, goff: int,
             write: bool) -> int:
    """Move ``chunk`` bytes (within one block) between file position
    ``pos`` and offset ``goff`` of the grant: the copy's result."""
    # Late import: write.py maps blocks with this module's read_map.
    from minixvm.servers.mfs.write import new_block

    bs = fs.vol.block_size
    off = pos % bs
    block = read_map(fs, ip, pos)
    if not write:
        if block == NO_BLOCK:
            return fs.sys.sys_safecopyto(VFS_PROC_NR, grant, goff, fs.zeros, chunk)
        with fs.cache.block(block) as buf:
            return fs.sys.sys_safecopyto(VFS_PROC_NR, grant, goff, buf.addr + off, chunk)
    if block == NO_BLOCK:
        buf = new_block(fs, ip, pos)
    else:
        buf = fs.cache.get_block(block, NO_READ if chunk == bs else NORMAL)
    try:
        r = fs.sys.sys_safecopyfrom(VFS_PROC_NR, grant, goff, buf.addr + off, chunk)
        if r == OK:
            fs.cache.mark_dirty(buf)
        return r
    finally:
        fs.cache.put_block(buf)


def do_getdents(fs: MFS, m: ReqGetdents) -> ReqGetdents:
    """REQ_GETDENTS: struct dirent records of the directory's entries from
    position ``pos`` (a multiple of the 64-byte slot) into the grant, as
    many as fit; EINVAL if not even one fits. The reply's ``pos`` is where
    the next call goes on."""
    ip = find_inode(fs, m.inode)
    if not ip.is_dir():
        raise RequestError(ENOTDIR)
    if m.pos_hi or m.pos < 0 or m.pos % DIR_ENTRY_SIZE:
        raise RequestError(ENOENT)
    if m.mem_size <= 0:
        raise RequestError(EINVAL)
    out = bytearray()
    copied = 0
    next_pos = m.pos
    for pos, _, ino, name in entries(fs, ip, m.pos):
        if ino:
            record = dirent_pack(ino, pos + DIR_ENTRY_SIZE, name)
            if copied + len(out) + len(record) > m.mem_size:
                break
            if len(out) + len(record) > BULK_SIZE:
                copied += flush_records(fs, m.grant, copied, out)
            out += record
        next_pos = pos + DIR_ENTRY_SIZE
    else:
        next_pos = max(next_pos, ip.d.size // DIR_ENTRY_SIZE * DIR_ENTRY_SIZE)
    copied += flush_records(fs, m.grant, copied, out)
    if copied == 0 and next_pos < ip.d.size // DIR_ENTRY_SIZE * DIR_ENTRY_SIZE:
        raise RequestError(EINVAL)
    if not fs.vol.readonly:
        touch(fs, ip, atime=True)
    return ReqGetdents(OK, pos=next_pos, nbytes=copied)


def flush_records(fs: MFS, grant: int, offset: int, records: bytearray) -> int:
    """Copy ``records`` to the grant at ``offset`` (and empty them): their length."""
    n = len(records)
    if n:
        fs.sys.mem_write(fs.scratch + BULK_BUF, records)
        r = fs.sys.sys_safecopyto(VFS_PROC_NR, grant, offset, fs.scratch + BULK_BUF, n)
        if r != OK:
            raise RequestError(-r)
        records.clear()
    return n

