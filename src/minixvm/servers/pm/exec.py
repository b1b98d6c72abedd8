"""EXEC: PM as the exec caller (until VFS reads files, as RS does in MINIX).

A program is found by path in PM's module table: a boot module (an ELF
file the System handed in, which PM copies into its own memory the first
time, so the file lies in simulated memory as RS's in-memory image does)
or a Python program image (a text address the System loaded). PM reads
the path and the initial stack frame from the caller, checks the file
and the frame, and loads the program through libexec with its own
callbacks: VM_PROCCTL clear, third-party VM_MMAP, vircopy straight from
the module into the target, SYS_MEMSET of the target. Everything that can
fail because of the file fails before the point of no return, and the
caller gets the error with its old image; a failure after it kills the
process (SIGKILL), never the MINIX bug of returning into an empty address
space (reference A8).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from minixvm.errors import E2BIG, EINVAL, ENAMETOOLONG, ENOENT, ENOEXEC, ENOMEM, EPERM, OK
from minixvm.include.arch import DEFAULT_STACK_SIZE, PY_DATA_BASE, VM_STACKTOP
from minixvm.include.ipc import Message
from minixvm.include.pm import PATH_MAX, PmExec
from minixvm.include.signal import SIGKILL, W_EXITCODE
from minixvm.include.vm import (
    MAP_ANON,
    MAP_FIXED,
    MAP_PREALLOC,
    MAP_PRIVATE,
    MAP_THIRDPARTY,
    MAP_UNINITIALIZED,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    VM_MMAP,
    VM_MUNMAP,
    VM_PROCCTL,
    VMPPARAM_CLEAR,
    VMPPARAM_PROTECT,
)
from minixvm.lib.elf import ElfError, ElfImage, elf_unpack
from minixvm.lib.exec import (
    ARG_MAX,
    DEFAULT_STACK_LIMIT,
    PROC_NAME_LEN,
    ExecInfo,
    libexec_load,
    text_image,
)
from minixvm.servers.pm.forkexit import exit_proc
from minixvm.servers.pm.mproc import MProc

if TYPE_CHECKING:
    from minixvm.servers.pm.main import PM

SUSPEND = None

# An ELF file (a boot module), or a Python program's text address.
Module = bytes | int
NO_IMAGE = ElfImage(0, ())


@dataclass
class ModuleTable:
    """What PM may exec, by path, and PM's copies of the modules in its own
    memory. ``copies`` 2 is the old path, for the benchmark only: each
    segment goes through a PM buffer on its way into the process."""

    modules: dict[str, Module] = field(default_factory=dict)
    copies: int = 1
    # path -> (the module, its address in PM's memory)
    buffers: dict[str, tuple[bytes, int]] = field(default_factory=dict)

    def __contains__(self, path: object) -> bool:
        return path in self.modules


def do_exec(pm: PM, mp: MProc, m: Message) -> Message | None:
    """EXEC: replace the caller's program by the one at ``path``; no reply on
    success. A system process's image is not PM's to replace."""
    if mp.system:
        return PmExec(-EPERM)
    r, path, frame = fetch_args(pm, mp, PmExec.view(m.buf))
    if r != OK:
        return PmExec(r)
    table = pm.modules
    module = table.modules.get(path)
    if module is None:
        return PmExec(-ENOENT)
    progname = path.rsplit("/", 1)[-1][: PROC_NAME_LEN - 1]
    r, image, file_base = prepare(pm, table, path, module, progname)
    if r != OK:
        return PmExec(r)
    info = exec_info(pm, table.copies, mp.endpoint, progname, frame, file_base)
    if isinstance(module, int):
        # A Python program's stack is only its libc's: it keeps the small one.
        info.stack_size = DEFAULT_STACK_SIZE
    r = libexec_load(info, image)
    if r == OK:
        r = copy_frame(pm, info)
    if r == OK:
        sp = PY_DATA_BASE if isinstance(module, int) else info.vsp
        r = pm.sys.sys_exec(mp.endpoint, pc=info.pc, name=info.progname, sp=sp)
    if r != OK and not info.partial:
        return PmExec(r)
    if r != OK:
        exit_proc(pm, mp, W_EXITCODE(0, SIGKILL))
        return SUSPEND
    mp.name = info.progname
    # libc's break starts where the last segment ends (_end; a Python
    # program's after its data page).
    mp.brk = max(seg.vaddr + seg.memsz for seg in image.segments)
    return SUSPEND


def fetch_args(pm: PM, mp: MProc, req: PmExec) -> tuple[int, str, bytes]:
    """(OK, path, frame) copied from the caller's memory, or (error, "", b"")."""
    if req.path_len <= 0 or req.frame_len <= 0:
        return -EINVAL, "", b""
    if req.path_len > PATH_MAX:
        return -ENAMETOOLONG, "", b""
    if req.frame_len > ARG_MAX:
        return -E2BIG, "", b""
    buf = pm.scratch(req.path_len + req.frame_len)
    r = pm.sys.sys_vircopy(mp.endpoint, req.path, pm.sys.endpoint, buf, req.path_len)
    if r == OK:
        r = pm.sys.sys_vircopy(mp.endpoint, req.frame, pm.sys.endpoint, buf + req.path_len,
                               req.frame_len)
    if r != OK:
        return r, "", b""
    raw = pm.sys.mem_read(buf, req.path_len + req.frame_len)
    path, frame = raw[: req.path_len], raw[req.path_len :]
    if path.find(0) != req.path_len - 1:  # one string, all of it
        return -EINVAL, "", b""
    return OK, path[:-1].decode("latin-1"), frame


def prepare(pm: PM, table: ModuleTable, path: str, module: Module,
            progname: str) -> tuple[int, ElfImage, int]:
    """(OK, what to load, where its file lies in PM's memory), or an error
    before anything is done to the caller: ENOEXEC, or ENOMEM for PM."""
    if isinstance(module, int):
        data = progname.encode("latin-1") + b"\0"
        base = pm.scratch(len(data))
        pm.sys.mem_write(base, data)
        return OK, text_image(module, data), base
    try:
        image = elf_unpack(module, VM_STACKTOP - DEFAULT_STACK_LIMIT)
    except ElfError:
        return -ENOEXEC, NO_IMAGE, 0
    base = module_buffer(pm, table, path, module)
    return (OK if base > 0 else base), image, base


def exec_info(pm: PM, copies: int, endpoint: int, progname: str, frame: bytes,
              file_base: int) -> ExecInfo:
    """The exec of ``endpoint`` with PM's callbacks; the file is at
    ``file_base`` in PM's memory."""
    return ExecInfo(
        proc_e=endpoint,
        progname=progname,
        frame=frame,
        clearproc=lambda i: pm.sys.vm_call(VM_PROCCTL, who=i.proc_e,
                                           param=VMPPARAM_CLEAR).m_type,
        allocmem_prealloc=lambda i, v, n: mmap_for(pm, i.proc_e, v, n,
                                                   MAP_PREALLOC | MAP_UNINITIALIZED),
        allocmem_ondemand=lambda i, v, n: mmap_for(pm, i.proc_e, v, n, 0),
        copymem=lambda i, off, v, n: copymem(pm, copies, i, file_base + off, v, n),
        clearmem=lambda i, v, n: pm.sys.sys_memset(0, v, n, process=i.proc_e),
        protect=lambda i, v, n: pm.sys.vm_call(VM_PROCCTL, who=i.proc_e, param=VMPPARAM_PROTECT,
                                               addr=v, len=n).m_type,
    )


def module_buffer(pm: PM, table: ModuleTable, path: str, module: bytes) -> int:
    """The address of ``module`` in PM's memory (copied there the first time;
    a module the System replaced is copied again): or -ENOMEM."""
    cached = table.buffers.get(path)
    if cached is not None and cached[0] is module:
        return cached[1]
    if cached is not None:
        pm.sys.vm_call(VM_MUNMAP, addr=cached[1], len=len(cached[0]))
        del table.buffers[path]
    # Preallocated, so that PM's own stores cannot fault on full memory.
    reply = pm.sys.vm_call(VM_MMAP, addr=0, len=len(module), prot=PROT_READ | PROT_WRITE,
                           flags=MAP_PRIVATE | MAP_ANON | MAP_PREALLOC, fd=-1, offset=0)
    if reply.m_type != OK:
        return -ENOMEM
    pm.sys.mem_write(reply.retaddr, module)
    table.buffers[path] = (module, reply.retaddr)
    return int(reply.retaddr)


def mmap_for(pm: PM, target: int, vaddr: int, length: int, extra: int) -> int:
    """Third-party VM_MMAP of [vaddr, vaddr+length) in ``target``."""
    flags = MAP_ANON | MAP_FIXED | MAP_THIRDPARTY | extra
    reply = pm.sys.vm_call(VM_MMAP, addr=vaddr, len=length,
                           prot=PROT_READ | PROT_WRITE | PROT_EXEC, flags=flags, fd=-1,
                           offset=0, forwhom=target)
    return reply.m_type if reply.m_type != OK or reply.retaddr == vaddr else -ENOMEM


def copymem(pm: PM, copies: int, info: ExecInfo, src: int, vaddr: int, length: int) -> int:
    """File bytes at ``src`` in PM's memory into the target: straight there,
    or (``copies`` 2, the old path) through a PM buffer first."""
    me = pm.sys.endpoint
    if copies == 2:
        buf = pm.scratch(length)
        r = pm.sys.sys_vircopy(me, src, me, buf, length)
        if r != OK:
            return r
        src = buf
    return pm.sys.sys_vircopy(me, src, info.proc_e, vaddr, length)


def copy_frame(pm: PM, info: ExecInfo) -> int:
    """The patched initial stack frame to its place below the stack top."""
    buf = pm.scratch(len(info.frame))
    pm.sys.mem_write(buf, info.frame)
    return pm.sys.sys_vircopy(pm.sys.endpoint, buf, info.proc_e, info.vsp, len(info.frame))
