"""The kernel-call table: permission check, dispatch, restart after VM.

Each process may make only the calls in its privilege's call mask (EPERM
otherwise). A handler either returns a result, raises RequestError, or raises
VMSuspend when it touched memory VM must first make present; the caller
then waits for VM and the call runs again from the start (handlers are
written to be restartable).
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from minixvm.errors import EBADREQUEST, EPERM, OK, RequestError
from minixvm.include import com
from minixvm.include.ipc import Message, layout_of
from minixvm.kernel import copy, grants, proccalls, safecopy, safemap, signals
from minixvm.kernel.exceptions import VMSuspend
from minixvm.kernel.proc import Proc

if TYPE_CHECKING:
    from minixvm.kernel.kernel import Kernel


_M_TYPE = struct.Struct("<i")

# Each handler takes its call's layout (include/com.py).
Handler = Callable[["Kernel", Proc, Any], int]


class KernelCalls:
    """Dispatch of kernel calls (MINIX kernel/system.c)."""

    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        self.counts: Counter[int] = Counter()
        self.table: dict[int, Handler] = {
            com.SYS_FORK: proccalls.do_fork,
            com.SYS_EXEC: proccalls.do_exec,
            com.SYS_CLEAR: proccalls.do_clear,
            com.SYS_PRIVCTL: proccalls.do_privctl,
            com.SYS_GETINFO: proccalls.do_getinfo,
            com.SYS_SETALARM: proccalls.do_setalarm,
            com.SYS_TIMES: proccalls.do_times,
            com.SYS_DIAGCTL: proccalls.do_diagctl,
            com.SYS_ABORT: proccalls.do_abort,
            com.SYS_KILL: signals.do_kill,
            com.SYS_GETKSIG: signals.do_getksig,
            com.SYS_ENDKSIG: signals.do_endksig,
            com.SYS_VMCTL: lambda k, caller, m: k.vmctl.do_vmctl(caller, m),
            com.SYS_VIRCOPY: copy.do_vircopy,
            com.SYS_PHYSCOPY: copy.do_physcopy,
            com.SYS_MEMSET: copy.do_memset,
            com.SYS_UMAP: copy.do_umap,
            com.SYS_SETGRANT: grants.do_setgrant,
            com.SYS_SAFECOPYFROM: safecopy.do_safecopy_from,
            com.SYS_SAFECOPYTO: safecopy.do_safecopy_to,
            com.SYS_VSAFECOPY: safecopy.do_vsafecopy,
            com.SYS_SAFEMAP: safemap.do_safemap,
            com.SYS_SAFEREVMAP: safemap.do_saferevmap,
            com.SYS_SAFEUNMAP: safemap.do_safeunmap,
        }
        self._layouts = {call_nr: layout_of(call_nr) for call_nr in self.table}

    def call(self, caller: Proc, buf: bytearray) -> int:
        """Run the kernel call in message ``buf`` (its m_type) for ``caller``: the
        reply fields are written into ``buf``, the result (OK or -errno) into
        its m_type and returned."""
        call_nr: int = _M_TYPE.unpack_from(buf, 4)[0]
        m = self._layouts.get(call_nr, Message).view(buf)
        request = bytes(buf) if self.k.trace.enabled else b""
        self.k.clock.kernel_work(caller)
        self.counts[call_nr] += 1
        handler = self.table.get(call_nr)
        if handler is None:
            result = -EBADREQUEST
        elif call_nr not in caller.priv.calls:
            result = -EPERM
        else:
            result = self._run(handler, caller, m)
        self.k.trace.kcall(caller, request, m, result)
        m.m_type = result
        return result

    def _run(self, handler: Handler, caller: Proc, m: Message) -> int:
        while True:
            try:
                return handler(self.k, caller, m)
            except RequestError as e:
                return -e.errno
            except VMSuspend as req:
                r = self.k.vmctl.memreq(caller, req)
                if r != OK:
                    return r
