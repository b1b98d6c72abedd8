"""RS's requests (MINIX rs/request.c): lookup, stop and restart by label,
a service's answer to its init message, and a panicking service's report.

Every request gets an answer (ENOSYS for one RS does not serve), except
RS_INIT from a service RS is starting: that is itself the answer to RS's
init message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from minixvm.errors import EINVAL, ENOSYS, EPERM, ESRCH, OK
from minixvm.include.ipc import Message
from minixvm.include.rs import (
    CRASH_TEXT_MAX,
    RS_CRASH_REPORT,
    RS_DOWN,
    RS_INIT,
    RS_LOOKUP,
    RS_MAX_LABEL_LEN,
    RS_RESTART,
    RsCrashReport,
    RsInit,
    RsRequest,
)
from minixvm.servers.rs import manager
from minixvm.servers.rs.service import STARTING, Service

if TYPE_CHECKING:
    from minixvm.servers.rs.main import RS


def handle(rs: RS, m: Message) -> Message | None:
    """The answer to request ``m``, or None (an init answer)."""
    if m.m_type == RS_INIT:
        svc = rs.by_endpoint(m.m_source)
        if svc is not None and svc.state == STARTING:
            manager.init_ready(rs, svc, RsInit.view(m.buf).result)
            return None
        return Message(-EINVAL)
    handler = CALLS.get(m.m_type)
    return handler(rs, m) if handler else Message(-ENOSYS)


def do_lookup(rs: RS, m: Message) -> Message:
    """RS_LOOKUP: the endpoint of the running service labelled so."""
    r, svc = service_named(rs, RsRequest.view(m.buf))
    if r == OK and (svc is None or not svc.running):
        r = -ESRCH
    return RsRequest(r, endpoint=svc.endpoint if r == OK and svc else 0)


def do_control(rs: RS, m: Message) -> Message:
    """RS_DOWN, RS_RESTART: only a system process may ask."""
    if not rs.is_system(m.m_source):
        return Message(-EPERM)
    r, svc = service_named(rs, RsRequest.view(m.buf))
    if r != OK or svc is None:
        return Message(r)
    if svc.image is None:
        return Message(-EPERM)  # a boot process is not RS's to stop
    (manager.stop_service if m.m_type == RS_DOWN else manager.restart_service)(rs, svc)
    return Message(OK)


def do_crash_report(rs: RS, m: Message) -> Message:
    """RS_CRASH_REPORT: keep a service's panic text for its crash log."""
    svc = rs.by_endpoint(m.m_source)
    if svc is None:
        return Message(-EPERM)
    req = RsCrashReport.view(m.buf)
    if not 0 < req.length <= CRASH_TEXT_MAX:
        return Message(-EINVAL)
    buf = rs.scratch(req.length)
    r = buf if buf < 0 else rs.sys.sys_safecopyfrom(m.m_source, req.grant, 0, buf, req.length)
    if r == OK:
        svc.panic_text = rs.sys.mem_read(buf, req.length).decode(errors="replace")
    return Message(r)


def service_named(rs: RS, req: RsRequest) -> tuple[int, Service | None]:
    """(OK, the service) whose label the caller granted, or (error, None)."""
    if not 1 < req.length <= RS_MAX_LABEL_LEN:
        return -EINVAL, None
    buf = rs.scratch(req.length)
    r = buf if buf < 0 else rs.sys.sys_safecopyfrom(req.m_source, req.grant, 0, buf, req.length)
    if r != OK:
        return r, None
    raw = rs.sys.mem_read(buf, req.length)
    if raw[-1] != 0 or 0 in raw[:-1]:
        return -EINVAL, None
    svc = rs.services.get(raw[:-1].decode("latin-1"))
    return (OK, svc) if svc is not None else (-ESRCH, None)


CALLS: dict[int, Callable[[RS, Message], Message]] = {
    RS_LOOKUP: do_lookup,
    RS_DOWN: do_control,
    RS_RESTART: do_control,
    RS_CRASH_REPORT: do_crash_report,
}
