"""Memory types: what a region's memory is, as one small protocol.

Region code calls only these hooks, so a new type needs no change there
(MINIX HEAD's struct mem_type). One class per file: anon (demand-zero,
copy-on-write), directphys (fixed physical memory), shared (another
process's shared anonymous region).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from minixvm.errors import EINVAL

if TYPE_CHECKING:
    from minixvm.servers.vm.main import VM
    from minixvm.servers.vm.pb import PhysBlock, PhysRegion
    from minixvm.servers.vm.region import Region


class MemType:
    """The hooks every memory type provides; the defaults suit most types."""

    name: ClassVar[str] = "?"  # for people: traces, VM_INFO, repr (never compared)
    # Its blocks are memory VM allocated, counted as such (not, say, a
    # device's physical memory mapped as is).
    owns_memory: ClassVar[bool] = True
    # Its blocks are plain pages, interchangeable with any other such block:
    # grant mappings and the yielded-block cache may swap one for another.
    exchangeable: ClassVar[bool] = False

    def pagefault(self, vm: VM, region: Region, offset: int, write: bool) -> int:
        """Make the page at ``offset`` present (and writable if ``write``):
        OK or -errno; raises NoMemory."""
        raise NotImplementedError

    def writable(self, pr: PhysRegion) -> bool:
        """May the process write this memory without a fault?"""
        raise NotImplementedError

    def free_block(self, vm: VM, pb: PhysBlock) -> None:
        """The last reference to ``pb`` is gone: give its memory back."""
        vm.free_mem(pb.phys, pb.length)

    def fork_block(self, vm: VM, pr: PhysRegion, child: Region) -> None:
        """Give the forked ``child`` region this block (raises NoMemory)."""
        raise NotImplementedError

    def split_param(self, param: Any, delta: int) -> Any:
        """The type parameter of a region that starts ``delta`` bytes later."""
        return param

    def sanity_problem(self, vm: VM, pr: PhysRegion) -> str | None:
        """What is wrong with ``pr`` by this type's own rules, if anything
        (MINIX's ev_sanitycheck)."""
        return None

    def resize(self, vm: VM, region: Region, length: int) -> int:
        """Grow or shrink the region to ``length`` bytes (brk): OK or -errno."""
        return -EINVAL
