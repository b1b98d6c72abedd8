"""Requests to RS (MINIX libsys's minix_rs_lookup, and what the ``service``
command sends): the label goes by grant, as RS copies it in."""

from __future__ import annotations

from minixvm.errors import OK
from minixvm.include.com import RS_PROC_NR
from minixvm.include.grant import CPF_READ
from minixvm.include.rs import RS_DOWN, RS_LOOKUP, RS_RESTART, RsRequest
from minixvm.lib.sys import SysLib


def rs_lookup(sys: SysLib, label: str) -> tuple[int, int]:
    """(r, the endpoint of the running service ``label``)."""
    reply = _label_call(sys, RS_LOOKUP, label)
    return reply.m_type, reply.endpoint if reply.m_type == OK else 0


def rs_restart(sys: SysLib, label: str) -> int:
    """Have RS restart service ``label`` into a new endpoint (system processes only)."""
    return _label_call(sys, RS_RESTART, label).m_type


def rs_down(sys: SysLib, label: str) -> int:
    """Have RS stop service ``label`` for good (system processes only)."""
    return _label_call(sys, RS_DOWN, label).m_type


def _label_call(sys: SysLib, m_type: int, label: str) -> RsRequest:
    raw = label.encode() + b"\0"
    buf = sys.scratch(len(raw))
    if buf < 0:
        return RsRequest(buf)
    sys.mem_write(buf, raw)
    grant = sys.grants.cpf_grant_direct(RS_PROC_NR, buf, len(raw), CPF_READ)
    if grant < 0:
        return RsRequest(grant)
    r, reply = sys.sendrec(RS_PROC_NR, RsRequest(m_type, grant=grant, length=len(raw)))
    sys.grants.cpf_revoke(grant)
    if r != OK or reply is None:
        return RsRequest(r)
    return RsRequest.view(reply.buf)
