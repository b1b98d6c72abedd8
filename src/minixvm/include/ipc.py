"""The IPC message (MINIX ``message``) and message-type names for tracing."""

from __future__ import annotations

from typing import Any

_names: dict[int, str] = {}


def register_names(namespace: dict[str, Any], prefix: str, first: int, count: int = 0x100) -> None:
    """Record the names of the message types ``prefix*`` of a constants module
    whose values lie in [first, first+count) (other constants share the prefix)."""
    for name, value in namespace.items():
        if (name.startswith(prefix) and not name.endswith("_BASE") and isinstance(value, int)
                and first <= value < first + count):
            _names.setdefault(value, name)


def msgname(m_type: int) -> str:
    """Symbolic name of a message type, or its number."""
    return _names.get(m_type, str(m_type))


class Message:
    """A fixed-size MINIX message: a type and a few scalar fields.

    Fields are plain attributes holding ints (or short immutable values);
    bulk data never travels in a message, only through memory grants.
    The kernel copies a message on delivery, as MINIX copies the struct.
    """

    m_source: int
    m_type: int

    def __init__(self, m_type: int = 0, **fields: Any) -> None:
        self.m_type = m_type
        self.__dict__.update(fields)

    def copy(self) -> Message:
        """A shallow copy (fields are immutable scalars)."""
        m = Message.__new__(Message)
        m.__dict__.update(self.__dict__)
        return m

    def fields(self) -> dict[str, Any]:
        """The payload fields (everything but m_type and m_source)."""
        return {k: v for k, v in self.__dict__.items() if k not in ("m_type", "m_source")}

    def __repr__(self) -> str:
        args = " ".join(f"{k}={_fmt(v)}" for k, v in self.fields().items())
        return f"<{msgname(self.m_type)} {args}>".replace(" >", ">")


def _fmt(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0x1000:
        return hex(value)
    return repr(value)
