"""Files: MFS's cache kept by VM, throughput through VFS and MFS, exec from files.

1. Re-reading a working set larger than MFS's own cache but smaller than
   RAM, with VM's yielded-block cache on and off (the seed's f78d8e74f):
   the disk reads of the second pass and its time.
2. Sequential write and read of a 16 MiB file by a Python program through
   VFS and MFS (64 KiB calls), beside the host reading the same image file.
3. Exec of a 1 MiB program (userland/bin/big) stored in the file system:
   MFS reads each segment straight into the new process (one copy), against
   the old path through a VFS buffer (two copies): bytes copied and time.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from minixvm import System
from minixvm.commands.mkfs import write_image
from minixvm.include.vfs import O_CREAT, O_RDONLY, O_WRONLY
from minixvm.lib.c import Process
from minixvm.servers.mfs.main import MfsOptions

BIN = Path(__file__).resolve().parent.parent / "userland" / "bin"
MiB = 1 << 20
CHUNK = 64 << 10
REPEATS = 3


def write_file(p: Process, path: str, size: int) -> None:
    fd = p.open(path, O_WRONLY | O_CREAT, 0o644)
    block = bytes(range(256)) * (CHUNK // 256)
    for _ in range(size // CHUNK):
        p.write(block, fd)
    p.close(fd)


def read_file(p: Process, path: str) -> int:
    fd = p.open(path, O_RDONLY)
    total = 0
    while chunk := p.read(fd, CHUNK):
        total += len(chunk)
    p.close(fd)
    return total


def cache_line(image: Path) -> str:
    """The second pass over a 4 MiB file with a 1 MiB MFS cache, VM's cache on and off."""
    figures = {}
    for vm_cache in (True, False):
        write_image(image, 32 * MiB, block_size=4096)
        with System.boot(ram="64M", disk=str(image),
                         mfs=MfsOptions(cache_blocks=256, vm_cache=vm_cache)) as system:
            system.run(lambda p: write_file(p, "/set", 4 * MiB))
            system.run(lambda p: read_file(p, "/set"))
            before = system.statistics().mfs.disk_reads
            start = time.perf_counter()
            system.run(lambda p: read_file(p, "/set"))
            seconds = time.perf_counter() - start
            stats = system.statistics().mfs
            figures[vm_cache] = (stats.disk_reads - before, seconds, stats.vm_hits)
    (on_reads, on_s, hits), (off_reads, off_s, _) = figures[True], figures[False]
    return (f"re-read of 4 MiB past a 1 MiB MFS cache: VM cache on {on_reads} disk reads "
            f"{on_s * 1e3:.0f} ms ({hits} VM hits), off {off_reads} disk reads "
            f"{off_s * 1e3:.0f} ms "
            f"(off/on {off_reads / max(on_reads, 1):.0f}x fewer disk reads, "
            f"{off_s / on_s:.2f}x time)")


def throughput_line(image: Path) -> str:
    """16 MiB written then read through VFS/MFS; the host reading the image file."""
    size = 16 * MiB
    write_image(image, 48 * MiB, block_size=4096)
    with System.boot(ram="96M", disk=str(image)) as system:
        start = time.perf_counter()
        system.run(lambda p: write_file(p, "/big", size))
        write_s = time.perf_counter() - start
        read_s = min(_timed(system, lambda p: read_file(p, "/big")) for _ in range(REPEATS))
    host_s = min(_host_read(image, size) for _ in range(REPEATS))
    return (f"16 MiB file: write {size / MiB / write_s:,.1f} MiB/s, read "
            f"{size / MiB / read_s:,.1f} MiB/s through VFS/MFS, host read of the image "
            f"{size / MiB / host_s:,.0f} MiB/s (host/read {read_s / host_s:.0f}x)")


def _timed(system: System, program: object) -> float:
    start = time.perf_counter()
    system.run(program)  # type: ignore[arg-type]
    return time.perf_counter() - start


def _host_read(image: Path, size: int) -> float:
    start = time.perf_counter()
    with image.open("rb", buffering=0) as f:
        while size > 0:
            size -= len(f.read(CHUNK))
    return time.perf_counter() - start


def exec_line(image: Path) -> str:
    """Exec of the 1 MiB program from the file system, one copy against two."""
    figures = {}
    big = (BIN / "big").read_bytes()
    for copies in (1, 2):
        write_image(image, 8 * MiB, files={"/bin/big": big})
        with System.boot(ram="64M", disk=str(image), exec_copies=copies) as system:
            system.exec("/bin/big", ["big"])  # the file's blocks into MFS's cache
            before = system.statistics().vfs
            seconds = min(_exec_seconds(system) for _ in range(5))
            after = system.statistics().vfs
            runs = 5
            figures[copies] = (seconds, (after.exec_read - before.exec_read) // runs,
                               (after.exec_copied - before.exec_copied) // runs)
    (one_s, one_read, one_copied), (two_s, two_read, two_copied) = figures[1], figures[2]
    one, two = one_read + one_copied, two_read + two_copied
    return (f"exec of a 1 MiB program: copied once {one_s * 1e3:.2f} ms, twice (old path) "
            f"{two_s * 1e3:.2f} ms (old/new {two_s / one_s:.2f}x); bytes copied "
            f"{one:,} once, {two:,} twice ({two / one:.1f}x)")


def _exec_seconds(system: System) -> float:
    start = time.perf_counter()
    if system.exec("/bin/big", ["big"]) != 0:
        raise RuntimeError("big failed")
    return time.perf_counter() - start


def main() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "disk.img"
        return [cache_line(image), throughput_line(image), exec_line(image)]


if __name__ == "__main__":
    for text in main():
        print(text)
