"""VM's side of grants: copy-on-write safecopy and safemap (MINIX c5b309ff0).

The kernel has checked the grant; here VM moves blocks between address
spaces:

* COWMAP (safecopy with the COW optimisation): the destination's pages are
  replaced by the source's blocks, shared copy-on-write;
* SMAP (safemap): the grantee's pages are replaced by the grantor's blocks,
  shared for real (PBSH_SMAP: writes are seen by both), read-only for the
  grantee unless it asked for a writable mapping;
* SUNMAP (safeunmap, saferevmap, exit of a process on the grant chain): the
  grantee gets a private copy of what it sees.

A block is never both COW-shared and SMAP-shared: mapping a COW-shared
page first gives the grantor its own copy, and COW-sharing a mapped page
copies it instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, ParamSpec

from minixvm.errors import EFAULT, EINVAL, OK
from minixvm.machine.ram import PAGE_SIZE
from minixvm.servers.vm.pagetable import pt_prepare
from minixvm.servers.vm.pb import PBSH_COW, PBSH_SMAP, PhysRegion, map_ph_writept, pb_link
from minixvm.servers.vm.region import (
    VR_WRITABLE,
    Region,
    exchangeable,
    map_clone_ph_block,
    map_copy_into,
    map_handle_memory,
    map_lookup,
    phys_in,
    split_phys_at,
    unmap_phys,
)
from minixvm.servers.vm.slab import use

if TYPE_CHECKING:
    from minixvm.servers.vm.main import VM
    from minixvm.servers.vm.vmproc import VMProc

Params = ParamSpec("Params")


def chunks(
    dst: VMProc, dst_addr: int, src: VMProc, src_addr: int, length: int
) -> Iterator[tuple[Region, int, Region, int, int]]:
    """Split a transfer into pieces that stay within one region on each side:
    (dst region, dst offset, src region, src offset, length). Raises
    LookupError where either side has no region."""
    done = 0
    while done < length:
        rd = map_lookup(dst, dst_addr + done)
        rs = map_lookup(src, src_addr + done)
        if rd is None or rs is None:
            raise LookupError
        doff = dst_addr + done - rd.vaddr
        soff = src_addr + done - rs.vaddr
        n = min(length - done, rd.length - doff, rs.length - soff)
        yield rd, doff, rs, soff, n
        done += n


def _replace(vm: VM, rd: Region, doff: int, pr: PhysRegion, share_flag: int,
             ro_map: bool) -> None:
    """Make ``rd`` map ``pr``'s block at ``doff`` instead of what it had there,
    the block now shared as ``share_flag``; every sharer's entries are rewritten."""
    pb = pr.ph
    end = doff + pb.length
    split_phys_at(vm, rd, doff)
    split_phys_at(vm, rd, end)
    pt_prepare(vm, rd.parent.pt, rd.vaddr + doff, pb.length)
    unmap_phys(vm, rd, doff, end)
    pb_link(vm, rd, doff, pb, ro_map)
    with use(pb):
        pb.share_flag = share_flag
    for sharer in pb.sharers:
        map_ph_writept(vm, sharer)


def _failures(fn: Callable[Params, int]) -> Callable[Params, int]:
    """A grant mapping over a range with no region is EFAULT. It may raise
    NoMemory: what is done by then stays done (splits and shares are sound)."""

    @functools.wraps(fn)
    def wrapper(*args: Params.args, **kwargs: Params.kwargs) -> int:
        try:
            return fn(*args, **kwargs)
        except LookupError:
            return -EFAULT

    return wrapper


def _aligned(*values: int) -> bool:
    return all(v % PAGE_SIZE == 0 for v in values)


@_failures
def map_cow_share(vm: VM, dst: VMProc, dst_addr: int, src: VMProc, src_addr: int,
                  length: int) -> int:
    """COWMAP: make ``dst``'s range share ``src``'s pages copy-on-write."""
    if not _aligned(dst_addr, src_addr, length):
        return -EINVAL
    r = map_handle_memory(vm, src, src_addr, length, False)
    if r != OK:
        return r
    for rd, doff, rs, soff, n in chunks(dst, dst_addr, src, src_addr, length):
        if not rd.flags & VR_WRITABLE:
            return -EFAULT
        split_phys_at(vm, rs, soff)
        split_phys_at(vm, rs, soff + n)
        for pr in phys_in(rs, soff, soff + n):
            d = doff + pr.offset - soff
            targets = phys_in(rd, d, d + pr.ph.length)
            if (
                pr.ph.share_flag == PBSH_SMAP
                or not (exchangeable(rs) and exchangeable(rd))
                or any(t.ph.share_flag == PBSH_SMAP or t.ro_map for t in targets)
            ):
                r = map_copy_into(vm, dst, rd.vaddr + d, pr.ph.phys, pr.ph.length)
                if r != OK:
                    return r
                continue
            _replace(vm, rd, d, pr, PBSH_COW, ro_map=False)
    return OK


@_failures
def map_smap(vm: VM, grantee: VMProc, addr: int, grantor: VMProc, gaddr: int, length: int,
             writable: bool) -> int:
    """SMAP: map ``grantor``'s [gaddr, gaddr+length) at ``grantee``'s ``addr``."""
    if not _aligned(addr, gaddr, length):
        return -EINVAL
    r = map_handle_memory(vm, grantor, gaddr, length, False)
    if r != OK:
        return r
    for rd, doff, rs, soff, n in chunks(grantee, addr, grantor, gaddr, length):
        if not exchangeable(rd) or not rd.accessible:
            return -EFAULT
        split_phys_at(vm, rs, soff)
        split_phys_at(vm, rs, soff + n)
        for pr in phys_in(rs, soff, soff + n):
            if pr.ph.refcount > 1 and pr.ph.share_flag == PBSH_COW:
                map_clone_ph_block(vm, pr)
        for pr in phys_in(rs, soff, soff + n):
            _replace(vm, rd, doff + pr.offset - soff, pr, PBSH_SMAP, ro_map=not writable)
    return OK


@_failures
def map_sunmap(vm: VM, grantee: VMProc, addr: int, length: int) -> int:
    """SUNMAP: give ``grantee`` a private copy of the mapped range."""
    for rd, doff, _, _, n in chunks(grantee, addr, grantee, addr, length):
        for pr in phys_in(rd, doff, doff + n):
            if pr.ph.share_flag == PBSH_SMAP and pr.ph.refcount > 1:
                map_clone_ph_block(vm, pr)
            elif pr.ro_map:
                with use(pr):
                    pr.ro_map = False
                map_ph_writept(vm, pr)
    return OK
