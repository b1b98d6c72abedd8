"""PM's replies: the result in m_type, as MINIX's ``reply_res``."""

from __future__ import annotations

from typing import TypeVar

from minixvm.include.ipc import Message

M = TypeVar("M", bound=Message)


def answer(kind: type[M], result: int, **fields: int) -> M:
    """A reply in layout ``kind`` whose m_type is ``result`` (a pid, OK or
    -errno: any value, even one that is also some request's number)."""
    reply = kind(**fields)
    reply.m_type = result
    return reply
