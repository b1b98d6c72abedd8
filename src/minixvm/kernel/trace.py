"""The trace: one line per message, kernel call, page fault and VM event.

Lines name processes as ``name(endpoint)`` and carry only values that
are the same from run to run, so two runs of the same program give the
same trace (a golden test relies on that).

Beside each line, when someone listens (``record``, or ``System.step``),
the same event as a dict: its step (the line's number, from 1), kind,
the process it is about (endpoint, pid, name), its fields by name and
the line itself. Kinds: ``msg``, ``file`` (a message of a file call or a
VFS-FS request, or its reply), ``kcall``, ``grant`` (a kernel call
through a grant: safecopy, safemap), ``exec`` (SYS_EXEC, about the
process that gets the new image), ``fault`` and the kinds servers
report (``cow`` from VM).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from minixvm.include import com, vfs, vfsif
from minixvm.include.ipc import Message, fmt_value, layout_of, msgname

if TYPE_CHECKING:
    from minixvm.kernel.kernel import Kernel
    from minixvm.kernel.proc import Proc

Event = dict[str, Any]
# The kinds of event, those the kernel makes and those servers report.
KINDS = ("msg", "file", "kcall", "grant", "exec", "fault", "cow")


class Trace:
    """Collects trace lines while ``enabled``; ``sink`` sees each as it is
    made, ``record`` each as an event; ``pid_of`` names an endpoint's pid."""

    def __init__(self, enabled: bool = False, sink: Callable[[str], None] | None = None,
                 record: Callable[[Event], None] | None = None,
                 pid_of: Callable[[int], int | None] | None = None) -> None:
        self.enabled = enabled
        self.sink = sink
        self.record = record
        self.pid_of = pid_of or (lambda endpoint: None)
        self.lines: list[str] = []
        self.kernel: Kernel | None = None
        self._pending: deque[Event] | None = None

    @property
    def wants_events(self) -> bool:
        return self.record is not None or self._pending is not None

    def pending(self) -> deque[Event]:
        """The events made from the first call on, not yet taken (``System.step``)."""
        if not self.enabled:
            raise ValueError("no events: the system was booted without trace or record")
        if self._pending is None:
            self._pending = deque()
        return self._pending

    def name(self, endpoint: int) -> str:
        p = self.kernel.procs.isokendpt(endpoint) if self.kernel else None
        return p.name if p else "?"

    def who(self, endpoint: int) -> str:
        """``name(endpoint)`` for an endpoint."""
        return f"{self.name(endpoint)}({endpoint})"

    def emit(self, kind: str, text: str, event: Event | None = None) -> None:
        """Record one line (callers check ``enabled`` first when formatting is
        costly), and its event: ``event`` (kind, endpoint, proc and fields),
        or, for a server's report, one parsed from ``text``."""
        if not self.enabled:
            return
        line = f"{kind:<6} {text}"
        self.lines.append(line)
        if self.sink:
            self.sink(line)
        if not self.wants_events:
            return
        event = event if event is not None else _reported(kind, text)
        endpoint = event["endpoint"]
        event = {"step": len(self.lines), "kind": event.pop("kind"), "endpoint": endpoint,
                 "pid": None if endpoint is None else self.pid_of(endpoint),
                 **event, "text": line}
        if self.record is not None:
            self.record(event)
        if self._pending is not None:
            self._pending.append(event)

    def message(self, data: bytes, dst: Proc) -> None:
        """A message delivered to ``dst``, by field name: a reply to a sendrec
        in the layout of the request it answers."""
        if not self.enabled:
            return
        msg = Message.decode(data)
        text = repr(msg)
        shown: Message = msg
        if dst.reply_pending:
            shown = layout_of(dst.request_type).view(msg.buf)
            args = "".join(f" {k}={fmt_value(v)}" for k, v in shown.fields().items())
            text = f"<{msgname(dst.request_type)} reply {shown.m_type}{args}>"
        line = f"{self.who(msg.m_source)} -> {dst.name}({dst.endpoint}) {text}"
        self.emit("msg", line, self._message_event(msg.m_source, dst, shown)
                  if self.wants_events else None)

    def _message_event(self, src: int, dst: Proc, shown: Message) -> Event:
        """The event of a message from ``src`` to ``dst``, ``shown`` in its layout."""
        reply = dst.reply_pending
        request = dst.request_type if reply else shown.m_type
        served = src if reply else dst.endpoint
        event = {"kind": "file" if _is_file(request, served) else "msg",
                 "endpoint": src, "proc": self.name(src),
                 "to": dst.endpoint, "to_pid": self.pid_of(dst.endpoint),
                 "to_proc": dst.name, "type": msgname(request), "reply": reply,
                 "fields": shown.fields()}
        if reply:
            event["result"] = shown.m_type
        return event

    def kcall(self, caller: Proc, request: bytes, m: Message, result: int) -> None:
        """A kernel call: its request fields (``request``, the message before the
        call), the result, and the reply fields the call wrote into ``m``."""
        if not self.enabled:
            return
        call_nr = Message.view(bytearray(request)).m_type
        asked = type(m).view(bytearray(request))
        names = _REQUESTS.get(call_nr, {})
        fields = {k: names.get(v, v) if k in _REQUEST_FIELDS else v
                  for k, v in asked.fields().items()}
        args = " ".join(f"{k}={v if isinstance(v, str) and k in _REQUEST_FIELDS else fmt_value(v)}"
                        for k, v in fields.items())
        code = next((int(getattr(asked, k)) for k in _REQUEST_FIELDS if k in asked.FIELDS), 0)
        changed = [k for k in _REPLIES.get((call_nr, code), m.FIELDS)
                   if getattr(m, k) != getattr(asked, k)]
        shown = _first_alias(m, changed)
        out = "".join(f" {k}={fmt_value(getattr(m, k))}" for k in shown)
        who = f"{caller.name}({caller.endpoint})"
        text = f"{who} {msgname(call_nr)} {args} -> {result}{out}".replace("  ", " ")
        self.emit("kcall", text, self._kcall_event(caller, call_nr, fields, result,
                                                   {k: getattr(m, k) for k in shown})
                  if self.wants_events else None)

    def _kcall_event(self, caller: Proc, call_nr: int, fields: dict[str, Any], result: int,
                     reply: dict[str, Any]) -> Event:
        """The event of a kernel call: ``grant`` for one through a grant,
        ``exec`` (about the process exec'ed) for SYS_EXEC, else ``kcall``."""
        event = {"kind": "kcall", "endpoint": caller.endpoint, "proc": caller.name,
                 "call": msgname(call_nr), "args": fields, "result": result, "reply": reply}
        if call_nr in _GRANT_CALLS:
            event["kind"] = "grant"
            if "granter" in fields:
                granter = int(fields["granter"])
                event["granter_proc"] = self.name(granter)
                event["granter_pid"] = self.pid_of(granter)
        elif call_nr == com.SYS_EXEC:
            target = int(fields.get("endpoint", 0))
            event.update(kind="exec", endpoint=target, proc=self.name(target),
                         caller=caller.endpoint, caller_proc=caller.name)
        return event

    def fault(self, p: Proc, addr: int, errcode: int) -> None:
        if self.enabled:
            kind = "protection" if errcode & 1 else "not-present"
            access = "write" if errcode & 2 else "read"
            event = {"kind": "fault", "endpoint": p.endpoint, "proc": p.name,
                     "addr": addr, "access": access, "cause": kind}
            self.emit("fault", f"{p.name}({p.endpoint}) {addr:#010x} {access} {kind}", event)


# A server's report: ``name(endpoint) details``; VM's cow: ``ADDR+LENGTH``.
_REPORT = re.compile(r"(.*?)\((-?\d+)\) ?(.*)", re.DOTALL)
_COW = re.compile(r"(0x[0-9a-f]+)\+(0x[0-9a-f]+)")


def _reported(kind: str, text: str) -> Event:
    """The event of a line a server reported (through SYS_DIAGCTL)."""
    m = _REPORT.fullmatch(text)
    if m is None:
        return {"kind": kind, "endpoint": None, "proc": "?", "details": text}
    event: Event = {"kind": kind, "endpoint": int(m[2]), "proc": m[1]}
    cow = _COW.fullmatch(m[3]) if kind == "cow" else None
    if cow is not None:
        event.update(addr=int(cow[1], 16), length=int(cow[2], 16))
    else:
        event["details"] = m[3]
    return event


_FILE_CALLS = frozenset(vars(vfs)[name] for name in (
    "READ", "WRITE", "OPEN", "CLOSE", "CREAT", "LINK", "UNLINK", "CHDIR", "MKNOD", "CHMOD",
    "PREV_STAT", "LSEEK", "MOUNT", "UMOUNT", "PREV_FSTAT", "SYNC", "RENAME", "MKDIR", "RMDIR",
    "DUP", "SYMLINK", "RDLNK", "PREV_LSTAT", "STAT", "FSTAT", "LSTAT", "FCNTL", "STAT_O",
    "FSTAT_O", "LSTAT_O", "GETDENTS", "TRUNCATE", "FTRUNCATE"))


def _is_file(request: int, server: int) -> bool:
    """Is a message of type ``request`` served by ``server`` a file request
    (a file call to VFS, or a VFS-FS request)?"""
    return (vfsif.VFS_BASE <= request < vfsif.VFS_BASE + 0x100
            or (request in _FILE_CALLS and server == com.VFS_PROC_NR))


_GRANT_CALLS = frozenset({com.SYS_SAFECOPYFROM, com.SYS_SAFECOPYTO, com.SYS_VSAFECOPY,
                          com.SYS_SAFEMAP, com.SYS_SAFEREVMAP, com.SYS_SAFEUNMAP})


def _names(prefix: str) -> dict[object, str]:
    return {v: k for k, v in vars(com).items() if k.startswith(prefix) and isinstance(v, int)}


# The request codes of kernel calls that have several, shown by name.
_REQUEST_FIELDS = frozenset({"param", "request"})
# The reply fields of the requests whose replies reuse request slots.
_REPLIES = {
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
