"""Messages are MINIX 3.2's 36-byte i386 messages: the slots sit at the
offsets gcc -m32 gives them, every layout round-trips through its bytes,
and an unset field reads as zero."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import minixvm  # noqa: F401 - imports every server, so every layout is registered
from minixvm.include.ipc import (
    MESSAGE_SIZE,
    UNION_SLOTS,
    CharSlot,
    Message,
    Slot,
    layout_of,
    msgname,
    registered_layouts,
)

# Reference B2: (byte offset, size) of every member of the union.
B2 = {
    "m1_i1": (8, 4), "m1_i2": (12, 4), "m1_i3": (16, 4),
    "m1_p1": (20, 4), "m1_p2": (24, 4), "m1_p3": (28, 4),
    "m2_i1": (8, 4), "m2_i2": (12, 4), "m2_i3": (16, 4),
    "m2_l1": (20, 4), "m2_l2": (24, 4), "m2_p1": (28, 4), "m2_s1": (32, 2),
    "m3_i1": (8, 4), "m3_i2": (12, 4), "m3_p1": (16, 4), "m3_ca1": (20, 16),
    "m4_l1": (8, 4), "m4_l2": (12, 4), "m4_l3": (16, 4), "m4_l4": (20, 4), "m4_l5": (24, 4),
    "m5_s1": (8, 2), "m5_s2": (10, 2), "m5_i1": (12, 4), "m5_i2": (16, 4),
    "m5_l1": (20, 4), "m5_l2": (24, 4), "m5_l3": (28, 4),
    "m7_i1": (8, 4), "m7_i2": (12, 4), "m7_i3": (16, 4), "m7_i4": (20, 4), "m7_i5": (24, 4),
    "m7_p1": (28, 4), "m7_p2": (32, 4),
    "m9_l1": (8, 4), "m9_l2": (12, 4), "m9_l3": (16, 4), "m9_l4": (20, 4), "m9_l5": (24, 4),
    "m9_s1": (28, 2), "m9_s2": (30, 2), "m9_s3": (32, 2), "m9_s4": (34, 2),
    "m10_i1": (8, 4), "m10_i2": (12, 4), "m10_i3": (16, 4), "m10_i4": (20, 4),
    "m10_l1": (24, 4), "m10_l2": (28, 4), "m10_l3": (32, 4),
}

LAYOUTS = sorted({cls for cls in registered_layouts().values()}, key=lambda c: c.__name__)
FIELDS = [(cls, name) for cls in LAYOUTS for name in cls.FIELDS]


def size_of(slot: Slot | CharSlot) -> int:
    return slot.size if isinstance(slot, CharSlot) else slot._st.size


def test_the_union_slots_are_those_of_the_reference_table() -> None:
    assert {name: (s.offset, size_of(s)) for name, s in UNION_SLOTS.items()} == B2
    assert Message.m_source.offset == 0 and Message.m_type.offset == 4
    assert MESSAGE_SIZE == 36


def test_every_server_and_kernel_call_has_layouts() -> None:
    names = {msgname(t) for t in registered_layouts()}
    for expected in ("SYS_SAFECOPYFROM", "SYS_VMCTL", "VM_MMAP", "VM_MUNMAP", "PM_KILL",
                     "PM_EXIT", "DS_PUBLISH", "DEV_WRITE", "NOTIFY_MESSAGE"):
        assert expected in names


@pytest.mark.parametrize("cls", LAYOUTS, ids=lambda c: c.__name__)
def test_every_field_of_a_layout_is_a_slot_of_the_union(cls: type[Message]) -> None:
    for name, s in cls.FIELDS.items():
        base = UNION_SLOTS[s.name]
        assert (s.offset, size_of(s)) == (base.offset, size_of(base)), f"{cls.__name__}.{name}"


@pytest.mark.parametrize("m_type", sorted(registered_layouts()), ids=msgname)
def test_an_unset_field_reads_zero(m_type: int) -> None:
    m = Message(m_type)
    assert type(m) is layout_of(m_type)
    assert bytes(m) == bytes(4) + m_type.to_bytes(4, "little", signed=True) + bytes(28)
    for name in m.FIELDS:
        assert getattr(m, name) in (0, "")


def value_for(slot: Slot | CharSlot, data: st.DataObject) -> int | str:
    if isinstance(slot, CharSlot):
        alphabet = st.characters(min_codepoint=1, max_codepoint=255)
        return data.draw(st.text(alphabet, max_size=slot.size - 1))
    bits = slot._st.size * 8
    signed = slot._st.format[-1].islower()
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    return data.draw(st.integers(lo, hi))


@pytest.mark.parametrize(("cls", "name"), FIELDS, ids=lambda v: getattr(v, "__name__", v))
@given(data=st.data())
def test_each_field_round_trips_through_its_bytes_alone(
    cls: type[Message], name: str, data: st.DataObject
) -> None:
    s = cls.FIELDS[name]
    value = value_for(s, data)
    m = cls(**{name: value})
    raw = bytes(m)
    assert len(raw) == MESSAGE_SIZE
    back = Message.decode(raw)
    assert type(back) is cls and getattr(back, name) == value
    assert bytes(back) == raw
    # Nothing outside the field's own bytes (and the header) was touched.
    outside = raw[8 : s.offset] + raw[s.offset + size_of(s) :]
    assert outside == bytes(len(outside))


@given(raw=st.binary(min_size=MESSAGE_SIZE, max_size=MESSAGE_SIZE))
def test_any_36_bytes_decode_and_encode_back_unchanged(raw: bytes) -> None:
    m = Message.decode(raw)
    assert bytes(m) == raw
    for name in m.FIELDS:
        getattr(m, name)  # every field of whatever layout reads without error


def test_a_value_wider_than_its_field_is_an_error_not_a_truncation() -> None:
    cls = layout_of(LAYOUTS[0].TYPES[0])
    name, s = next((n, s) for n, s in cls.FIELDS.items() if isinstance(s, Slot))
    with pytest.raises(OverflowError, match=s.name):
        cls(**{name: 1 << (s._st.size * 8)})


def test_an_unknown_field_name_is_refused() -> None:
    with pytest.raises(TypeError, match="no field"):
        Message(LAYOUTS[0].TYPES[0], no_such_field=1)
