"""The trace: one line per message, kernel call, page fault and VM event.

Lines name processes as ``name(endpoint)`` and carry only values that
are the same from run to run, so two runs of the same program give the
same trace (a golden test relies on that).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from minixvm.include import com
from minixvm.include.ipc import Message, fmt_value, layout_of, msgname

if TYPE_CHECKING:
    from minixvm.kernel.kernel import Kernel
    from minixvm.kernel.proc import Proc


class Trace:
    """Collects trace lines while ``enabled``; ``sink`` sees each as it is made."""

    def __init__(self, enabled: bool = False, sink: Callable[[str], None] | None = None) -> None:
        self.enabled = enabled
        self.sink = sink
        self.lines: list[str] = []
        self.kernel: Kernel | None = None

    def who(self, endpoint: int) -> str:
        """``name(endpoint)`` for an endpoint."""
        p = self.kernel.procs.isokendpt(endpoint) if self.kernel else None
        return f"{p.name if p else '?'}({endpoint})"

    def emit(self, kind: str, text: str) -> None:
        """Record one line (callers check ``enabled`` first when formatting is costly)."""
        if not self.enabled:
            return
        line = f"{kind:<6} {text}"
        self.lines.append(line)
        if self.sink:
            self.sink(line)

    def message(self, data: bytes, dst: Proc) -> None:
        """A message delivered to ``dst``, by field name: a reply to a sendrec
        in the layout of the request it answers."""
        if not self.enabled:
            return
        msg = Message.decode(data)
        text = repr(msg)
        if dst.reply_pending:
            reply = layout_of(dst.request_type).view(msg.buf)
            args = "".join(f" {k}={fmt_value(v)}" for k, v in reply.fields().items())
            text = f"<{msgname(dst.request_type)} reply {reply.m_type}{args}>"
        self.emit("msg", f"{self.who(msg.m_source)} -> {dst.name}({dst.endpoint}) {text}")

    def kcall(self, caller: Proc, request: bytes, m: Message, result: int) -> None:
        """A kernel call: its request fields (``request``, the message before the
        call), the result, and the reply fields the call wrote into ``m``."""
        if not self.enabled:
            return
        call_nr = Message.view(bytearray(request)).m_type
        asked = type(m).view(bytearray(request))
        names = _REQUESTS.get(call_nr, {})
        args = " ".join(
            f"{k}={names.get(v, fmt_value(v)) if k in _REQUEST_FIELDS else fmt_value(v)}"
            for k, v in asked.fields().items())
        code = next((int(getattr(asked, k)) for k in _REQUEST_FIELDS if k in asked.FIELDS), 0)
        changed = [k for k in _REPLIES.get((call_nr, code), m.FIELDS)
                   if getattr(m, k) != getattr(asked, k)]
        out = "".join(f" {k}={fmt_value(getattr(m, k))}" for k in _first_alias(m, changed))
        who = f"{caller.name}({caller.endpoint})"
        self.emit("kcall", f"{who} {msgname(call_nr)} {args} -> {result}{out}".replace("  ", " "))

    def fault(self, p: Proc, addr: int, errcode: int) -> None:
        if self.enabled:
            kind = "protection" if errcode & 1 else "not-present"
            access = "write" if errcode & 2 else "read"
            self.emit("fault", f"{p.name}({p.endpoint}) {addr:#010x} {access} {kind}")


def _names(prefix: str) -> dict[object, str]:
    return {v: k for k, v in vars(com).items() if k.startswith(prefix) and isinstance(v, int)}


# The request codes of kernel calls that have several, shown by name.
_REQUEST_FIELDS = frozenset({"param", "request"})
# The reply fields of the requests whose replies reuse request slots.
_REPLIES = {
    (com.SYS_VMCTL, com.VMCTL_GET_PAGEFAULT): ("who", "addr", "errcode"),
    (com.SYS_VMCTL, com.VMCTL_MEMREQ_GET): ("mr_requestor", "mr_target", "mr_addr", "mr_length",
                                           "mr_write", "mr_ep2", "mr_addr2"),
    (com.SYS_GETINFO, com.GET_WHOAMI): ("who_endpoint", "who_privflags", "who_name"),
}


def _first_alias(m: Message, names: list[str]) -> list[str]:
    """``names`` less those naming a slot an earlier one named."""
    seen: set[int] = set()
    out = []
    for name in names:
        offset = m.FIELDS[name].offset
        if offset not in seen:
            seen.add(offset)
            out.append(name)
    return out


_REQUESTS = {
    com.SYS_VMCTL: _names("VMCTL_"),
    com.SYS_GETINFO: _names("GET_"),
    com.SYS_PRIVCTL: _names("SYS_PRIV_"),
}
