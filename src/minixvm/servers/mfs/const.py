"""MFS's constants (MINIX servers/mfs/const.h): where its scratch buffers lie."""

from __future__ import annotations

from minixvm.machine.ram import PAGE_SIZE

# MFS's scratch memory, two pages: the superblock and small buffers in the
# first, a bulk buffer (getdents records, a symlink's target) in the second.
SCRATCH_SIZE = 2 * PAGE_SIZE
SUPER_BUF = 0  # 1024 bytes: the superblock, a driver label, VM's statistics
PATH_BUF = 0x400  # a path (PATH_MAX bytes)
NAME_BUF = 0x500  # a name (MFS_DIRSIZ + 1 bytes)
NAME_BUF2 = 0x540
STAT_BUF = 0x580  # a struct stat
BULK_BUF, BULK_SIZE = PAGE_SIZE, PAGE_SIZE

MEMORY_MAJOR = 1  # the memory driver's devices: a RAM disk needs no VM cache
MIN_BUFS = 10  # the fewest buffers the heuristic gives (MINIX fs_bufs_heuristic)
