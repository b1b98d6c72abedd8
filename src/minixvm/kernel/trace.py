"""The trace: one line per message, kernel call, page fault and VM event.

Lines name processes as ``name(endpoint)`` and carry only values that
are the same from run to run, so two runs of the same program give the
same trace (a golden test relies on that).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from minixvm.include import com
from minixvm.include.ipc import Message, msgname

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

    def message(self, msg: Message, dst: Proc) -> None:
        if self.enabled:
            self.emit("msg", f"{self.who(msg.m_source)} -> {dst.name}({dst.endpoint}) {msg!r}")

    def kcall(self, caller: Proc, call_nr: int, m: Message, result: int) -> None:
        if self.enabled:
            names = _REQUESTS.get(call_nr, {})
            args = " ".join(f"{k}={names.get(v, _short(v)) if k in _REQUEST_FIELDS else _short(v)}"
                            for k, v in m.fields().items() if _scalar(v))
            who = f"{caller.name}({caller.endpoint})"
            self.emit("kcall", f"{who} {msgname(call_nr)} {args} -> {result}")

    def fault(self, p: Proc, addr: int, errcode: int) -> None:
        if self.enabled:
            kind = "protection" if errcode & 1 else "not-present"
            access = "write" if errcode & 2 else "read"
            self.emit("fault", f"{p.name}({p.endpoint}) {addr:#010x} {access} {kind}")


def _scalar(v: object) -> bool:
    return isinstance(v, int | str | bool)


def _short(v: object) -> str:
    if isinstance(v, str):
        return repr(v)  # quoted and escaped: a newline in it must not end the line
    return f"{v:#x}" if isinstance(v, int) and not isinstance(v, bool) and v > 0xFFFF else str(v)


def _names(prefix: str) -> dict[object, str]:
    return {v: k for k, v in vars(com).items() if k.startswith(prefix) and isinstance(v, int)}


# The request codes of kernel calls that have several, shown by name.
_REQUEST_FIELDS = frozenset({"param", "request"})
_REQUESTS = {
    com.SYS_VMCTL: _names("VMCTL_"),
    com.SYS_GETINFO: _names("GET_"),
    com.SYS_PRIVCTL: _names("SYS_PRIV_"),
}
