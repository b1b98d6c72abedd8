"""mkfs: build a MINIX v3 file-system image (MINIX commands/mkfs.mfs).

The layout is the one Linux's ``mkfs.minix -3`` makes (same inode count,
bitmap sizes and first data zone), so its fsck.minix can check our 1 KiB
images; like MINIX's own mkfs the image is marked clean, so MFS mounts it
read-write. Every image holds the root directory, /dev with the system's
special files and /tmp; files from a mapping or a host directory are added.
All inodes belong to root and carry one fixed time, so identical input gives
identical bytes.

Zones are blocks (log_zone_size 0) and are handed out in order: each file's
data zones, then its indirect blocks.
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from minixvm.commands.parser import Parser, say
from minixvm.include.mfs import (
    INODE_SIZE,
    LINK_MAX,
    MFSFLAG_CLEAN,
    NO_INODE,
    NO_ZONE,
    NR_DZONES,
    NR_TZONES,
    START_BLOCK,
    SUPER_OFFSET,
    SUPER_V3,
    ZONE_DOUBLE,
    ZONE_NUM_SIZE,
    ZONE_SINGLE,
    DiskInode,
    Superblock,
    bit_set,
    dir_entry_pack,
    max_file_size,
)
from minixvm.include.vfs import S_IFBLK, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG
from minixvm.machine.ram import parse_size

TIME = 1338940800  # every inode's atime, mtime and ctime (the system's epoch)
BLOCK_SIZES = (1024, 4096)
DIR_MODE = S_IFDIR | 0o755
FILE_MODE = S_IFREG | 0o755

# /dev: (name, mode, major, minor); dev = major << 8 | minor goes in zone[0].
DEV_NODES = (
    ("console", S_IFCHR | 0o666, 4, 0),
    ("tty", S_IFCHR | 0o666, 5, 0),
    ("mem", S_IFCHR | 0o640, 1, 1),
    ("null", S_IFCHR | 0o666, 1, 3),
    ("zero", S_IFCHR | 0o666, 1, 5),
    ("ram", S_IFBLK | 0o640, 1, 0),
    ("c0d0", S_IFBLK | 0o640, 3, 0),
)
TMP_MODE = S_IFDIR | 0o1777

FileSpec = bytes | tuple[bytes, int]
# mkfs writes its image in pieces of SAVE_CHUNK, and shows its progress
# from LARGE up.
SAVE_CHUNK = 4 << 20
LARGE = 64 << 20


@dataclass(eq=False)
class Node:
    """A file to lay out: a directory (entries), a special file (dev) or data."""

    mode: int
    data: bytes = b""  # a regular file's contents, a symlink's target
    dev: int = 0
    entries: dict[bytes, Node] = field(default_factory=dict)
    ino: int = NO_INODE

    @property
    def is_dir(self) -> bool:
        return self.mode & S_IFMT == S_IFDIR

    @property
    def is_special(self) -> bool:
        return self.mode & S_IFMT in (S_IFCHR, S_IFBLK)


# ---------------------------------------------------------------- the tree


def base_tree() -> Node:
    """The root directory with /dev and /tmp, as every image has them."""
    dev = Node(DIR_MODE)
    for name, mode, major, minor in DEV_NODES:
        dev.entries[name.encode()] = Node(mode, dev=major << 8 | minor)
    return Node(DIR_MODE, entries={b"dev": dev, b"tmp": Node(TMP_MODE)})


def path_parts(path: str) -> list[bytes]:
    """The components of an absolute image path."""
    if not path.startswith("/"):
        raise ValueError(f"image path {path!r} is not absolute")
    parts = [p.encode() for p in path.split("/") if p]
    if not parts or any(p in (b".", b"..") for p in parts):
        raise ValueError(f"bad image path {path!r}")
    return parts


def enter_dir(dirnode: Node, name: bytes, node: Node) -> None:
    """Put ``node`` in ``dirnode`` as ``name``; a file may replace a file."""
    dir_entry_pack(1, name)  # checks the name
    old = dirnode.entries.get(name)
    if old is not None and (old.is_dir or node.is_dir):
        raise ValueError(f"{name.decode(errors='replace')!r} is already in the image")
    dirnode.entries[name] = node


def make_dirs(root: Node, parts: list[bytes]) -> Node:
    """The directory ``parts`` under ``root``, made (mode 0755) where missing."""
    node = root
    for name in parts:
        child = node.entries.get(name)
        if child is None:
            child = Node(DIR_MODE)
            enter_dir(node, name, child)
        elif not child.is_dir:
            raise ValueError(f"{name.decode(errors='replace')!r} is not a directory")
        node = child
    return node


def file_node(spec: FileSpec) -> Node:
    """The node of a ``files`` value: bytes (mode 0755) or (bytes, mode)."""
    data, mode = (spec, FILE_MODE) if isinstance(spec, bytes | bytearray) else spec
    if mode & S_IFMT == 0:
        mode |= S_IFREG
    if mode & S_IFMT not in (S_IFREG, S_IFLNK):
        raise ValueError(f"mode {mode:#o} is not a regular file or a symlink")
    return Node(mode, data=bytes(data))


def add_files(root: Node, files: Mapping[str, FileSpec]) -> None:
    """Enter each file of ``files`` (absolute path → contents) in the tree."""
    for path, spec in files.items():
        *dirs, name = path_parts(path)
        enter_dir(make_dirs(root, dirs), name, file_node(spec))


def add_host_dir(dirnode: Node, path: Path) -> None:
    """Copy the host tree under ``path`` into ``dirnode`` (sorted, permissions kept)."""
    for host in sorted(path.iterdir()):
        st = host.lstat()
        perms = stat.S_IMODE(st.st_mode)
        name = os.fsencode(host.name)
        if stat.S_ISLNK(st.st_mode):
            node = Node(S_IFLNK | perms, data=os.fsencode(os.readlink(host)))
        elif stat.S_ISREG(st.st_mode):
            node = Node(S_IFREG | perms, data=host.read_bytes())
        elif stat.S_ISDIR(st.st_mode):
            node = make_dirs(dirnode, [name])
            node.mode = S_IFDIR | perms
            add_host_dir(node, host)
            continue
        else:
            raise ValueError(f"{host}: not a regular file, directory or symlink")
        enter_dir(dirnode, name, node)


def walk(node: Node, parent: Node) -> list[tuple[Node, Node]]:
    """(node, its parent) for ``node`` and everything under it, parents first."""
    pairs = [(node, parent)]
    for child in node.entries.values():
        pairs += walk(child, node)
    return pairs


# ---------------------------------------------------------------- the layout


def default_inodes(blocks: int) -> int:
    """mkfs.minix's inode count: one per 3 blocks, per 8 past 512 Ki, per 16 past 2 Mi."""
    if blocks > 2048 * 1024:
        return blocks // 16
    if blocks > 512 * 1024:
        return blocks // 8
    return blocks // 3


def make_super(size: int, block_size: int, inodes: int | None) -> Superblock:
    """The superblock of an image of ``size`` bytes, laid out as mkfs.minix does."""
    if block_size not in BLOCK_SIZES:
        raise ValueError(f"block size {block_size}: expected 1024 or 4096")
    if inodes is not None and inodes < 1:
        raise ValueError(f"{inodes} inodes: an image needs at least one")
    if size <= 0 or size % block_size:
        raise ValueError(f"image size {size} is not a positive multiple of the "
                         f"{block_size}-byte block")
    blocks = size // block_size
    if blocks >= 1 << 32:
        raise ValueError(f"image size {size}: too many blocks for MINIX's 32-bit zones")
    per_block = block_size // INODE_SIZE
    ninodes = default_inodes(blocks) if inodes is None else inodes
    ninodes = max(-(-ninodes // per_block) * per_block, per_block)
    bits = block_size * 8
    imap_blocks = -(-(ninodes + 1) // bits)
    inode_blocks = ninodes // per_block
    # Enough zmap bits for zones firstdatazone-1 .. blocks-1 (Linux's formula).
    zmap_blocks = -(-(blocks - (1 + imap_blocks + inode_blocks)) // (bits + 1))
    zmap_blocks = max(zmap_blocks, 1)
    first = START_BLOCK + imap_blocks + zmap_blocks + inode_blocks
    # firstdatazone_old 0 (MFS computes it) when the 16-bit field cannot hold
    # it; max_size is what MINIX's mkfs writes (Linux writes 0x7fffffff).
    sb = Superblock(ninodes=ninodes, imap_blocks=imap_blocks, zmap_blocks=zmap_blocks,
                    firstdatazone_old=first if first <= 0xFFFF else 0, log_zone_size=0,
                    flags=MFSFLAG_CLEAN, max_size=max_file_size(block_size), zones=blocks,
                    block_size=block_size)
    if first + 1 >= blocks:
        raise ValueError(f"image size {size} is too small: the inodes and bitmaps need "
                         f"{first} of its {blocks} blocks")
    problem = sb.problem()
    if problem:
        raise ValueError(f"image size {size}: {problem}")
    return sb


def init_bitmap(nbytes: int, free: int) -> bytes:
    """A bitmap of ``nbytes`` with bits 1..free clear and all others set."""
    ones = (1 << nbytes * 8) - 1
    return (ones ^ ((1 << free) - 1) << 1).to_bytes(nbytes, "little")


class ImageWriter:
    """An image under construction: the buffer, its bitmaps and the next free inode and zone."""

    def __init__(self, sb: Superblock) -> None:
        self.sb = sb
        self.bs = sb.block_size
        self.image = bytearray(sb.zones * self.bs)
        self.image[SUPER_OFFSET:SUPER_OFFSET + sb.STRUCT.size] = sb.pack()
        imap_at = START_BLOCK * self.bs
        zmap_at = imap_at + sb.imap_blocks * self.bs
        self.image[imap_at:zmap_at] = init_bitmap(sb.imap_blocks * self.bs, sb.ninodes)
        self.image[zmap_at:zmap_at + sb.zmap_blocks * self.bs] = init_bitmap(
            sb.zmap_blocks * self.bs, sb.zones - sb.firstdatazone)
        self.imap = memoryview(self.image)[imap_at:zmap_at]
        self.zmap = memoryview(self.image)[zmap_at:zmap_at + sb.zmap_blocks * self.bs]
        self.next_inode = 1
        self.next_zone = sb.firstdatazone
        self.per_indirect = self.bs // ZONE_NUM_SIZE

    def alloc_inode(self) -> int:
        """The next free inode number, marked in use."""
        if self.next_inode > self.sb.ninodes:
            raise ValueError(f"image too small: more than {self.sb.ninodes} inodes needed")
        ino, self.next_inode = self.next_inode, self.next_inode + 1
        bit_set(self.imap, ino)
        return ino

    def alloc_zone(self, data: bytes | memoryview) -> int:
        """The next free zone, marked in use and holding ``data`` (at most a block)."""
        if self.next_zone >= self.sb.zones:
            raise ValueError(f"image too small: more than its {self.sb.zones} blocks needed")
        zone, self.next_zone = self.next_zone, self.next_zone + 1
        bit_set(self.zmap, zone - self.sb.firstdatazone + 1)
        at = zone * self.bs
        self.image[at:at + len(data)] = data
        return zone

    def write_indirect(self, zones: list[int]) -> int:
        """A new indirect block listing ``zones``."""
        return self.alloc_zone(struct.pack(f"<{len(zones)}I", *zones))

    def write_data(self, data: bytes) -> list[int]:
        """Store ``data`` in new zones; the inode's NR_TZONES zone slots for it."""
        if len(data) > max_file_size(self.bs):
            raise ValueError(f"a file of {len(data)} bytes is larger than the "
                             f"{max_file_size(self.bs)} a {self.bs}-byte block FS holds")
        view = memoryview(data)
        zones = [self.alloc_zone(view[at:at + self.bs]) for at in range(0, len(data), self.bs)]
        slots = zones[:NR_DZONES] + [NO_ZONE] * (NR_TZONES - len(zones[:NR_DZONES]))
        rest = zones[NR_DZONES:]
        if rest:
            slots[ZONE_SINGLE] = self.write_indirect(rest[:self.per_indirect])
            rest = rest[self.per_indirect:]
        if rest:
            step = self.per_indirect
            singles = [self.write_indirect(rest[i:i + step]) for i in range(0, len(rest), step)]
            slots[ZONE_DOUBLE] = self.write_indirect(singles)
        return slots

    def write_inode(self, ino: int, inode: DiskInode) -> None:
        at = self.sb.inode_table * self.bs + (ino - 1) * INODE_SIZE
        self.image[at:at + INODE_SIZE] = inode.pack()

    def write_node(self, node: Node, parent: Node) -> None:
        """Write ``node``'s contents and inode (its children have their numbers)."""
        nlinks = 1
        data = node.data
        if node.is_dir:
            nlinks = 2 + sum(child.is_dir for child in node.entries.values())
            if nlinks > LINK_MAX:
                raise ValueError(f"a directory of {nlinks - 2} directories: more than "
                                 f"an inode's {LINK_MAX} links")
            data = b"".join([dir_entry_pack(node.ino, b"."), dir_entry_pack(parent.ino, b".."),
                             *(dir_entry_pack(child.ino, name)
                               for name, child in node.entries.items())])
        if node.is_special:
            zones = [node.dev] + [NO_ZONE] * (NR_TZONES - 1)
        else:
            zones = self.write_data(data)
        self.write_inode(node.ino, DiskInode(mode=node.mode, nlinks=nlinks, size=len(data),
                                             atime=TIME, mtime=TIME, ctime=TIME, zones=zones))

    def write_tree(self, root: Node) -> None:
        """Number every inode of the tree (root is 1), then write them in that order."""
        pairs = walk(root, root)
        for node, _ in pairs:
            node.ino = self.alloc_inode()
        for node, parent in pairs:
            self.write_node(node, parent)


# ---------------------------------------------------------------- the API


def make_image(size: int, block_size: int = 1024,
               files: Mapping[str, FileSpec] | None = None,
               from_dir: str | os.PathLike[str] | None = None,
               inodes: int | None = None) -> bytearray:
    """A clean MINIX v3 image of ``size`` bytes: root, /dev, /tmp, ``from_dir``, ``files``.

    ``files`` maps absolute paths to contents (mode 0755) or (contents, mode),
    where mode may be S_IFLNK (contents: the target) or a regular file's;
    parents are made with mode 0755. ``inodes`` overrides the inode count
    (rounded up to fill the last inode block). ValueError if it cannot be made.
    """
    sb = make_super(size, block_size, inodes)
    root = base_tree()
    if from_dir is not None:
        add_host_dir(root, Path(from_dir))
    add_files(root, files or {})
    writer = ImageWriter(sb)
    writer.write_tree(root)
    return writer.image


def write_image(path: str | os.PathLike[str], size: int, block_size: int = 1024,
                files: Mapping[str, FileSpec] | None = None,
                from_dir: str | os.PathLike[str] | None = None,
                inodes: int | None = None) -> None:
    """Write make_image's image to the host file ``path``."""
    image = make_image(size, block_size, files=files, from_dir=from_dir, inodes=inodes)
    Path(path).write_bytes(image)


def save(image: bytearray, path: str | os.PathLike[str]) -> None:
    """Write ``image`` to ``path``, with progress for a large one (the command's)."""
    # The progress bar's rich is the command line's, not System's: imported here.
    from minixvm.views.progress import progress

    chunks = range(0, len(image), SAVE_CHUNK)
    with open(path, "wb") as f, progress(f"mkfs {Path(path).name}", len(chunks),
                                         quiet=len(image) < LARGE) as advance:
        for at in chunks:
            f.write(image[at:at + SAVE_CHUNK])
            advance()


def mark_clean(image: bytearray | str | os.PathLike[str]) -> None:
    """Set MFSFLAG_CLEAN in a MINIX v3 image (e.g. one from mkfs.minix), in place."""
    if isinstance(image, bytearray):
        end = SUPER_OFFSET + Superblock.STRUCT.size
        image[SUPER_OFFSET:end] = _cleaned(bytes(image[SUPER_OFFSET:end]))
        return
    with open(image, "r+b") as f:
        f.seek(SUPER_OFFSET)
        raw = _cleaned(f.read(Superblock.STRUCT.size))
        f.seek(SUPER_OFFSET)
        f.write(raw)


def _cleaned(raw: bytes) -> bytes:
    """The superblock ``raw`` with MFSFLAG_CLEAN set; ValueError if it is not V3."""
    if len(raw) < Superblock.STRUCT.size:
        raise ValueError("no superblock: the image is too short")
    sb = Superblock.unpack(raw)
    if sb.magic != SUPER_V3:
        raise ValueError(f"not a MINIX v3 file system (magic {sb.magic:#x})")
    sb.flags |= MFSFLAG_CLEAN
    return sb.pack()


def run(argv: Sequence[str]) -> int:
    """The command ``minixvm mkfs IMAGE SIZE [--block-size N] [--from DIR]``; its exit status."""
    parser = Parser(prog="minixvm mkfs", description="make a MINIX v3 file-system image")
    parser.add_argument("image", help="the image file to write")
    parser.add_argument("size", help="its size, e.g. 4M, 64K, 1G or a number of bytes")
    parser.add_argument("--block-size", type=int, choices=BLOCK_SIZES, default=1024)
    parser.add_argument("--from", dest="from_dir", metavar="DIR",
                        help="copy this host directory's tree into the image")
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as e:  # argparse has printed its message
        return e.code if isinstance(e.code, int) else 2
    try:
        save(make_image(parse_size(args.size), args.block_size, from_dir=args.from_dir),
             args.image)
    except (ValueError, OSError) as e:
        say(f"minixvm mkfs: {e}")
        return 2
    return 0
