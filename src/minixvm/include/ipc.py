"""The IPC message: MINIX 3.2's 36-byte i386 ``message``, and its layouts.

A message is 36 bytes: ``m_source`` at 0, ``m_type`` at 4, and a 28-byte
union holding one of the payload shapes m1, m2, m3, m4, m5, m7, m9, m10 (the
offsets below, as gcc -m32 lays out MINIX's ``struct message``). Every
request and reply has a *layout*: a subclass of ``Message`` that names the
union's slots for that call, as MINIX's ``com.h`` names them with
``#define VMM_ADDR m5_l1``::

    @layout(VM_MMAP)
    class VmMmap(Message):
        addr = m5_l1
        len = m5_l2

Fields are fixed-width integers (pointers are 32-bit virtual addresses;
bulk data goes by grant), and an unset field reads as zero, like a C
struct. ``unsigned(m5_l1)`` reads a signed slot as unsigned, as C code
casts ``(vir_bytes) m.m5_l1``: an address field should read unsigned.
A process builds a message, the kernel moves its 36 bytes, and the
receiver reads them through the layout its ``m_type`` names (or, for a
reply, the layout of the request it sent).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, overload

MESSAGE_SIZE = 36

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


class Slot:
    """A fixed-width integer at a byte offset of the message (``m5_l1``...).

    A store accepts any value the field's width can hold, signed or not, and
    keeps it as C would (``-1`` in a pointer reads back as ``0xffffffff``);
    a value wider than the field is an error, not a silent truncation.
    """

    __slots__ = ("name", "offset", "_st", "_lo", "_hi", "_wrap")

    def __init__(self, name: str, offset: int, fmt: str) -> None:
        self.name = name
        self.offset = offset
        self._st = struct.Struct("<" + fmt)
        bits = self._st.size * 8
        signed = fmt.islower()
        self._lo = -(1 << (bits - 1))
        self._hi = 1 << bits
        # Stores go through the unsigned format; loads through the declared one.
        self._wrap = struct.Struct("<" + fmt.upper())
        assert signed or fmt.isupper()

    @overload
    def __get__(self, obj: None, owner: type) -> Slot: ...
    @overload
    def __get__(self, obj: Message, owner: type) -> int: ...

    def __get__(self, obj: Message | None, owner: type) -> int | Slot:
        if obj is None:
            return self
        value: int = self._st.unpack_from(obj.buf, self.offset)[0]
        return value

    def __set__(self, obj: Message, value: int) -> None:
        if not self._lo <= value < self._hi:
            raise OverflowError(f"{value:#x} does not fit in {self.name}")
        self._wrap.pack_into(obj.buf, self.offset, value % self._hi)


class CharSlot:
    """``m3_ca1``: a 16-byte NUL-padded string (at most 15 characters)."""

    __slots__ = ("name", "offset", "size")

    def __init__(self, name: str, offset: int, size: int) -> None:
        self.name, self.offset, self.size = name, offset, size

    @overload
    def __get__(self, obj: None, owner: type) -> CharSlot: ...
    @overload
    def __get__(self, obj: Message, owner: type) -> str: ...

    def __get__(self, obj: Message | None, owner: type) -> str | CharSlot:
        if obj is None:
            return self
        raw = bytes(obj.buf[self.offset : self.offset + self.size])
        return raw.split(b"\0", 1)[0].decode("latin-1")

    def __set__(self, obj: Message, value: str) -> None:
        raw = value.encode("latin-1", errors="replace")
        if len(raw) >= self.size:
            raise OverflowError(f"{value!r} does not fit in {self.name} ({self.size - 1} chars)")
        obj.buf[self.offset : self.offset + self.size] = raw.ljust(self.size, b"\0")


AnySlot = Slot | CharSlot


def unsigned(slot: Slot) -> Slot:
    """``slot`` read as unsigned: a C cast such as ``(vir_bytes) m.m5_l1``."""
    return Slot(slot.name, slot.offset, slot._st.format[-1].upper())


def signed(slot: Slot) -> Slot:
    """``slot`` read as signed: ``(endpoint_t) m.m1_p1``."""
    return Slot(slot.name, slot.offset, slot._st.format[-1].lower())

# The union's members (B2 of the reference: byte offsets in the message).
m1_i1, m1_i2, m1_i3 = Slot("m1_i1", 8, "i"), Slot("m1_i2", 12, "i"), Slot("m1_i3", 16, "i")
m1_p1, m1_p2, m1_p3 = Slot("m1_p1", 20, "I"), Slot("m1_p2", 24, "I"), Slot("m1_p3", 28, "I")
m2_i1, m2_i2, m2_i3 = Slot("m2_i1", 8, "i"), Slot("m2_i2", 12, "i"), Slot("m2_i3", 16, "i")
m2_l1, m2_l2 = Slot("m2_l1", 20, "i"), Slot("m2_l2", 24, "i")
m2_p1, m2_s1 = Slot("m2_p1", 28, "I"), Slot("m2_s1", 32, "h")
m3_i1, m3_i2, m3_p1 = Slot("m3_i1", 8, "i"), Slot("m3_i2", 12, "i"), Slot("m3_p1", 16, "I")
m3_ca1 = CharSlot("m3_ca1", 20, 16)
m4_l1, m4_l2, m4_l3 = Slot("m4_l1", 8, "i"), Slot("m4_l2", 12, "i"), Slot("m4_l3", 16, "i")
m4_l4, m4_l5 = Slot("m4_l4", 20, "i"), Slot("m4_l5", 24, "i")
m5_s1, m5_s2 = Slot("m5_s1", 8, "h"), Slot("m5_s2", 10, "h")
m5_i1, m5_i2 = Slot("m5_i1", 12, "i"), Slot("m5_i2", 16, "i")
m5_l1, m5_l2, m5_l3 = Slot("m5_l1", 20, "i"), Slot("m5_l2", 24, "i"), Slot("m5_l3", 28, "i")
m7_i1, m7_i2, m7_i3 = Slot("m7_i1", 8, "i"), Slot("m7_i2", 12, "i"), Slot("m7_i3", 16, "i")
m7_i4, m7_i5 = Slot("m7_i4", 20, "i"), Slot("m7_i5", 24, "i")
m7_p1, m7_p2 = Slot("m7_p1", 28, "I"), Slot("m7_p2", 32, "I")
m9_l1, m9_l2, m9_l3 = Slot("m9_l1", 8, "i"), Slot("m9_l2", 12, "i"), Slot("m9_l3", 16, "i")
m9_l4, m9_l5 = Slot("m9_l4", 20, "i"), Slot("m9_l5", 24, "i")
m9_s1, m9_s2 = Slot("m9_s1", 28, "h"), Slot("m9_s2", 30, "h")
m9_s3, m9_s4 = Slot("m9_s3", 32, "h"), Slot("m9_s4", 34, "h")
m10_i1, m10_i2 = Slot("m10_i1", 8, "i"), Slot("m10_i2", 12, "i")
m10_i3, m10_i4 = Slot("m10_i3", 16, "i"), Slot("m10_i4", 20, "i")
m10_l1, m10_l2, m10_l3 = Slot("m10_l1", 24, "i"), Slot("m10_l2", 28, "i"), Slot("m10_l3", 32, "i")

UNION_SLOTS: dict[str, AnySlot] = {
    name: value for name, value in list(globals().items())
    if isinstance(value, Slot | CharSlot) and name[:1] == "m" and name[1:].split("_")[0].isdigit()
}

_HEADER = struct.Struct("<ii")
M = TypeVar("M", bound="Message")


class Message:
    """A 36-byte message viewed through a layout.

    ``Message(m_type, **fields)`` builds the layout registered for
    ``m_type`` (the plain layout, with no named payload, if none is);
    ``VmMmap(**fields)`` builds a request of that layout's type and
    ``VmMmap(result)`` a reply; naming a field the layout does not have is a
    TypeError.
    """

    __slots__ = ("buf",)

    # The named payload fields of this layout, in declaration order (aliases
    # of one slot included), and the types it is the layout of.
    FIELDS: ClassVar[dict[str, AnySlot]] = {}
    TYPES: ClassVar[tuple[int, ...]] = ()

    m_source = Slot("m_source", 0, "i")
    m_type = Slot("m_type", 4, "i")

    def __new__(cls, m_type: int | None = None, **fields: int | str) -> Message:
        if cls is Message and m_type is not None:
            cls = _layouts.get(m_type, Message)
        return object.__new__(cls)

    def __init__(self, m_type: int | None = None, **fields: int | str) -> None:
        self.buf = bytearray(MESSAGE_SIZE)
        if m_type is None:
            # A layout built by its class name is a request of its (first) type.
            m_type = type(self).TYPES[0] if type(self).TYPES else 0
        _HEADER.pack_into(self.buf, 0, int(fields.pop("m_source", 0)), m_type)
        for name, value in fields.items():
            if name not in self.FIELDS:
                raise TypeError(f"{type(self).__name__} has no field {name!r}")
            setattr(self, name, value)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields = dict(cls.FIELDS)
        fields.update({name: v for name, v in vars(cls).items()
                       if isinstance(v, Slot | CharSlot) and name not in ("m_source", "m_type")})
        for name in fields:
            if name in vars(Message):
                raise TypeError(f"{cls.__name__}.{name} hides Message.{name}")
        cls.FIELDS = fields
        cls.TYPES = ()

    @classmethod
    def view(cls: type[M], buf: bytearray) -> M:
        """``buf`` (36 bytes, shared, not copied) seen through this layout."""
        m = object.__new__(cls)
        m.buf = buf
        return m

    @classmethod
    def decode(cls, data: bytes | bytearray) -> Message:
        """A copy of ``data`` seen through the layout its m_type names."""
        buf = bytearray(data)
        return _layouts.get(_HEADER.unpack_from(buf, 0)[1], Message).view(buf)

    def reply_view(self, data: bytes | bytearray) -> Message:
        """A copy of ``data``, a reply to this request, in this request's layout."""
        return type(self).view(bytearray(data))

    def copy(self: M) -> M:
        return type(self).view(bytearray(self.buf))

    def fields(self) -> dict[str, int | str]:
        """The payload fields that are set (non-zero), by name; an alias of a
        slot already shown is left out."""
        out: dict[str, int | str] = {}
        seen: set[int] = set()
        for name, s in self.FIELDS.items():
            value = getattr(self, name)
            if value and s.offset not in seen:
                out[name] = value
                seen.add(s.offset)
        return out

    if TYPE_CHECKING:
        # Code that holds a message of a layout it does not name (a reply
        # typed by the request it answers) reads its fields untyped.
        def __getattr__(self, name: str) -> Any: ...

    def __bytes__(self) -> bytes:
        return bytes(self.buf)

    def __repr__(self) -> str:
        args = "".join(f" {k}={fmt_value(v)}" for k, v in self.fields().items())
        return f"<{msgname(self.m_type)}{args}>"


_layouts: dict[int, type[Message]] = {}


def layout(*types: int) -> Callable[[type[M]], type[M]]:
    """Register a class as the layout of the message types ``types``."""

    def register(cls: type[M]) -> type[M]:
        for t in types:
            if t in _layouts:
                raise ValueError(f"two layouts for {msgname(t)}: "
                                 f"{_layouts[t].__name__} and {cls.__name__}")
            _layouts[t] = cls
        cls.TYPES = tuple(types)
        return cls

    return register


def layout_of(m_type: int) -> type[Message]:
    """The layout registered for ``m_type`` (the plain Message if none)."""
    return _layouts.get(m_type, Message)


def registered_layouts() -> dict[int, type[Message]]:
    """Every message type with a layout (for tests and the trace)."""
    return dict(_layouts)


def fmt_value(value: int | str) -> str:
    """A field's value as the trace shows it: addresses and sizes from a
    page up in hex, strings quoted (a newline must not end a trace line)."""
    if isinstance(value, int) and not 0 <= value < 0x1000:
        return hex(value) if value > 0 else str(value)
    return repr(value) if isinstance(value, str) else str(value)


# -- asynchronous messages (SENDA) ------------------------------------------------------
# A system process's table of asynmsg_t in its own memory: flags, dst,
# result, then the message (<minix/ipc.h>, 48 bytes on i386).
ASYNMSG = struct.Struct(f"<Iii{MESSAGE_SIZE}s")
ASYNMSG_SIZE = ASYNMSG.size
AMF_EMPTY = 0  # an unused entry
AMF_VALID = 1  # an entry to deliver
AMF_DONE = 2  # the kernel is done with it: ``result`` says how it went
AMF_NOTIFY = 4  # tell the sender (a notification from ASYNCM) when it is done
AMF_NOREPLY = 8  # not a reply: do not satisfy the receive half of a sendrec
