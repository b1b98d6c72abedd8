"""The kernel's access to process memory, and the CPU's.

Two paths, both through the page tables in RAM:

* kernel copies (vircopy, safecopy, grant-table reads) find the target's
  page directory through the table of page directories VM installed at
  PAGEDIRS_PDE, and on a missing or read-only page raise VMSuspend so the
  call waits for VM (MINIX's vmcheck) and restarts;
* a program's own loads and stores (``user_read``/``user_write``) are the
  CPU: a failed translation is a page-fault trap handled by VM, after which
  the access is retried.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minixvm.errors import EFAULT, RequestError
from minixvm.include.com import VMPTYPE_CHECK
from minixvm.include.ipc import MESSAGE_SIZE
from minixvm.include.signal import SIGSEGV
from minixvm.kernel.exceptions import VMSuspend
from minixvm.kernel.proc import Proc
from minixvm.kernel.signals import cause_sig
from minixvm.machine.mmu import PageFault
from minixvm.machine.ram import PAGE_SIZE

if TYPE_CHECKING:
    from minixvm.kernel.kernel import Kernel

ADDR_LIMIT = 1 << 32


class KernelMemory:
    """Translation and copying of process virtual memory."""

    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        self.mmu = kernel.mmu
        self.ram = kernel.ram
        # Where VM installed the table of page directories (VMCTL_I386_PAGEDIRS):
        # its address in every address space, and VM's page directory to look through.
        self.pagedirs_base = 0
        self.pagedirs_cr3 = 0
        # Slice operations kernel copies made (one per physically contiguous run).
        self.slices = 0

    def pagedir(self, p: Proc) -> int:
        """Physical address of ``p``'s page directory, found the way the kernel
        finds it: through the shared table of page directories."""
        if self.pagedirs_cr3 and p.nr >= 0:
            try:
                return self.mmu.translate(self.pagedirs_cr3, self.pagedirs_base + p.nr * 4096,
                                          False, False)
            except PageFault:
                pass  # no directory of its own yet: the boot mapping
        return p.cr3

    def pieces(self, p: Proc, vaddr: int, n: int, write: bool) -> list[tuple[int, int]]:
        """Physical pieces of ``p``'s [vaddr, vaddr+n) for a kernel copy.

        Only user-accessible pages count (a process cannot make the kernel copy
        kernel memory for it). A fault raises VMSuspend for the whole range.
        """
        pagedir = self.pagedir(p)
        if vaddr < 0 or n < 0 or vaddr + n > ADDR_LIMIT or not pagedir:
            raise RequestError(EFAULT)
        try:
            return self.mmu.translate_range(pagedir, vaddr, n, write, True)
        except PageFault:
            raise VMSuspend(VMPTYPE_CHECK, p.endpoint, vaddr, n, write) from None

    def read(self, p: Proc, vaddr: int, n: int) -> bytes:
        """Kernel read of process memory."""
        return self.gather(self.pieces(p, vaddr, n, False))

    def write(self, p: Proc, vaddr: int, data: bytes) -> None:
        """Kernel write into process memory (a kernel call's reply data)."""
        self.slices += copy_pieces(self.ram.mv, [(0, len(data))],
                                   self.pieces(p, vaddr, len(data), True), src_mv=memoryview(data))

    def copy(self, src: Proc, src_addr: int, dst: Proc, dst_addr: int, n: int) -> None:
        """Copy between two processes' virtual memory (both sides may suspend)."""
        spieces = self.pieces(src, src_addr, n, False)
        dpieces = self.pieces(dst, dst_addr, n, True)
        self.slices += copy_pieces(self.ram.mv, spieces, dpieces)

    # -- messages in process memory (the IPC trap) ----------------------------------

    def msg_pieces(self, p: Proc, vaddr: int, write: bool) -> list[tuple[int, int]] | None:
        """Where the 36-byte message at ``vaddr`` is, as the process may access
        it; None if any of it is not (IPC copies do not ask VM)."""
        return self.ipc_pieces(p, vaddr, MESSAGE_SIZE, write)

    def ipc_pieces(self, p: Proc, vaddr: int, n: int,
                   write: bool) -> list[tuple[int, int]] | None:
        """Where ``p``'s [vaddr, vaddr+n) is, as the process may access it
        (a message, a SENDA table); None if any of it is not."""
        if n < 0 or not 0 <= vaddr <= ADDR_LIMIT - n:
            return None
        try:
            return self.mmu.translate_range(p.cr3, vaddr, n, write, True)
        except PageFault:
            return None

    def ipc_read(self, p: Proc, vaddr: int, n: int) -> bytes | None:
        """``p``'s [vaddr, vaddr+n) read as an IPC copy does; None: EFAULT."""
        pieces = self.ipc_pieces(p, vaddr, n, False)
        return None if pieces is None else self.gather(pieces)

    def ipc_write(self, p: Proc, vaddr: int, data: bytes) -> bool:
        """Store ``data`` into ``p``'s memory as an IPC copy does; False: EFAULT."""
        pieces = self.ipc_pieces(p, vaddr, len(data), True)
        if pieces is None:
            return False
        self.slices += copy_pieces(self.ram.mv, [(0, len(data))], pieces,
                                   src_mv=memoryview(data))
        return True

    def gather(self, pieces: list[tuple[int, int]]) -> bytes:
        """The bytes at physical ``pieces``."""
        mv = self.ram.mv
        if len(pieces) == 1:
            a, n = pieces[0]
            return bytes(mv[a : a + n])
        return b"".join(mv[a : a + n] for a, n in pieces)

    def msg_write(self, p: Proc, vaddr: int, msg: bytes) -> bool:
        """Deliver ``msg`` into ``p``'s memory (MINIX delivermsg); False: EFAULT."""
        return self.ipc_write(p, vaddr, msg)

    # -- the CPU ----------------------------------------------------------------

    def user_read(self, p: Proc, vaddr: int, n: int) -> bytes:
        """A load of ``n`` bytes by program ``p``."""
        out = bytearray(n)
        self._user_access(p, vaddr, n, False, memoryview(out))
        return bytes(out)

    def user_write(self, p: Proc, vaddr: int, data: bytes | bytearray | memoryview) -> None:
        """A store by program ``p``."""
        src = memoryview(data).cast("B")
        self._user_access(p, vaddr, len(src), True, src)

    def _user_access(self, p: Proc, vaddr: int, n: int, write: bool, buf: memoryview) -> None:
        """Move bytes between ``buf`` and ``p``'s memory a page at a time, as a
        string instruction does: after a page fault is handled the access
        resumes at the faulting page; what was done before it stays done."""
        mv, translate = self.ram.mv, self.mmu.translate
        done = 0
        while done < n:
            addr = vaddr + done
            chunk = min(n - done, PAGE_SIZE - (addr & (PAGE_SIZE - 1)))
            if not 0 <= addr < ADDR_LIMIT:
                # No i386 address: nothing VM could map makes it one (handing
                # VM the wrapped address would retry forever).
                cause_sig(self.k, p, SIGSEGV)
                self.k.sched.block(p)
                continue
            try:
                pa = translate(p.cr3, addr, write, True)
            except PageFault as fault:
                self.k.vmctl.pagefault(p, fault)
                continue
            if write:
                mv[pa : pa + chunk] = buf[done : done + chunk]
            else:
                buf[done : done + chunk] = mv[pa : pa + chunk]
            done += chunk


def copy_pieces(
    mv: memoryview, src: list[tuple[int, int]], dst: list[tuple[int, int]],
    src_mv: memoryview | None = None,
) -> int:
    """Copy bytes described by two lists of physical pieces of equal total size
    (the source pieces in ``src_mv`` if given, else in RAM too); the number of
    slice copies made."""
    smv = mv if src_mv is None else src_mv
    if len(src) == len(dst) == 1:
        (sa, sl), (da, _) = src[0], dst[0]
        mv[da : da + sl] = smv[sa : sa + sl]
        return 1
    slices = si = di = 0
    soff = doff = 0
    while si < len(src) and di < len(dst):
        sa, sl = src[si]
        da, dl = dst[di]
        n = min(sl - soff, dl - doff)
        mv[da + doff : da + doff + n] = smv[sa + soff : sa + soff + n]
        slices += 1
        soff += n
        doff += n
        if soff == sl:
            si, soff = si + 1, 0
        if doff == dl:
            di, doff = di + 1, 0
    return slices
