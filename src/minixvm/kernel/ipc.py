"""Message passing: send, receive, sendrec, notify, and deadlock detection.

Semantics follow MINIX's proc.c: a send blocks until the destination takes
the message; a receive blocks until a message (or a pending notification)
arrives; sendrec is a send and a receive of the reply as one atomic step
(the caller accepts nothing but the reply, not even a notification);
notify never blocks and coalesces: any number of notifications from one
source before the destination receives arrive as one message. senda
(MINIX asynsend) never blocks either: a system process hands the kernel a
table of messages in its own memory, and each is delivered as soon as its
destination receives (from ANY or from the sender); the kernel marks the
entry done with its result.

A message is 36 bytes (``include/ipc.py``); the kernel stamps ``m_source``
and moves the bytes. ``trap`` is MINIX's ``do_ipc`` for a process whose
message lives in its own memory: the kernel copies it in and out through
the process's page tables, without VM (a bad address is EFAULT, as
MINIX's ``delivermsg``).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from minixvm.errors import (
    ECALLDENIED,
    EDEADSRCDST,
    EFAULT,
    EINVAL,
    ELOCKED,
    ENOTREADY,
    ETRAPDENIED,
    OK,
)
from minixvm.include.com import ANY, ASYNCM, NONE, NOTIFY_MESSAGE, NR_PROCS, NR_TASKS
from minixvm.include.ipc import (
    AMF_DONE,
    AMF_NOREPLY,
    AMF_NOTIFY,
    AMF_VALID,
    ASYNMSG,
    ASYNMSG_SIZE,
    MESSAGE_SIZE,
)
from minixvm.kernel.proc import (
    NOTIFY,
    RECEIVE,
    RTS_RECEIVING,
    RTS_SENDING,
    SEND,
    SENDA,
    SENDNB,
    SENDREC,
    Proc,
)

if TYPE_CHECKING:
    from minixvm.kernel.kernel import Kernel

_HEADER = struct.Struct("<ii")
_SOURCE = struct.Struct("<i")
_PAYLOAD = bytes(MESSAGE_SIZE - _HEADER.size)
# The part of an asynmsg_t the kernel writes: flags, dst, result.
_ASYN_HEAD = struct.Struct("<Iii")
_AMF_KNOWN = AMF_VALID | AMF_DONE | AMF_NOTIFY | AMF_NOREPLY
# The largest SENDA table (MINIX's arbitrary 16 entries per process slot).
ASYN_MAX = 16 * (NR_TASKS + NR_PROCS)


def notify_message(src_e: int) -> bytes:
    """The message a notification from ``src_e`` arrives as."""
    return _HEADER.pack(src_e, NOTIFY_MESSAGE) + _PAYLOAD


def _bad_flags(flags: int) -> bool:
    """A used asynmsg_t entry with unknown bits, or without AMF_VALID."""
    return bool(flags & ~_AMF_KNOWN or not flags & AMF_VALID)


class IPC:
    """The kernel's message-passing primitives."""

    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        self.messages = 0
        self.notifies = 0

    # -- the traps ------------------------------------------------------------

    def send(self, caller: Proc, dst_e: int, m: bytes, nonblock: bool = False) -> int:
        """Deliver ``m`` to ``dst_e``, blocking until it is taken."""
        if r := self._trap_denied(caller, SENDNB if nonblock else SEND):
            return r
        r = self._send(caller, dst_e, m, nonblock=nonblock)
        if r == OK and caller.rts_flags & RTS_SENDING:
            self.k.sched.block(caller)
            r = caller.ipc_result
        return r

    def receive(self, caller: Proc, src_e: int) -> tuple[int, bytes | None]:
        """Wait for a message from ``src_e`` (or ANY)."""
        if r := self._trap_denied(caller, RECEIVE):
            return r, None
        return self._receive(caller, src_e, accept_notify=True)

    def sendrec(self, caller: Proc, dst_e: int, m: bytes) -> tuple[int, bytes | None]:
        """Send ``m`` and wait for the reply from the same process."""
        if r := self._trap_denied(caller, SENDREC):
            return r, None
        caller.request_type = _HEADER.unpack_from(m)[1]
        r = self._send(caller, dst_e, m, nonblock=False)
        if r != OK:
            return r, None
        caller.reply_pending = True
        return self._receive(caller, dst_e, accept_notify=False)

    def notify(self, caller: Proc, dst_e: int) -> int:
        """Post a notification from ``caller``; never blocks."""
        if r := self._trap_denied(caller, NOTIFY):
            return r
        return self.mini_notify(caller, dst_e)

    def senda(self, caller: Proc, table: int, count: int) -> int:
        """Hand the kernel the ``count`` asynmsg_t at ``table`` in ``caller``'s
        memory; never blocks (MINIX mini_senda)."""
        if r := self._trap_denied(caller, SENDA):
            return r
        return self._senda(caller, table, count)

    def kernel_send(self, p: Proc, dst_e: int, m: bytes | bytearray) -> None:
        """Send ``m`` as from ``p``, on the kernel's behalf (MINIX mini_send
        FROM_KERNEL: a page fault's VM_PAGEFAULT). The receiver is told it
        came from the kernel; ``p``, blocked for another reason already,
        waits in the receiver's queue until it is taken."""
        self._send(p, dst_e, bytes(m), nonblock=False, from_kernel=True)

    def _trap_denied(self, caller: Proc, trap: int) -> int:
        return OK if trap in caller.priv.traps else -ETRAPDENIED

    def trap(self, caller: Proc, call: int, endpoint: int, msg_addr: int) -> int:
        """``int $0x21``: IPC trap ``call`` with the message at ``msg_addr`` in
        ``caller``'s memory (MINIX do_ipc). A received message or reply is
        written back there."""
        if call not in (SEND, SENDNB, RECEIVE, SENDREC, NOTIFY, SENDA) or self._trap_denied(
                caller, call):
            return -ETRAPDENIED
        if call == NOTIFY:
            return self.notify(caller, endpoint)
        if call == SENDA:
            return self.senda(caller, msg_addr, endpoint)  # ebx the table, eax the count
        memory = self.k.memory
        # One translation: a send needs the message readable, anything that
        # waits for an answer needs it writable too.
        pieces = memory.msg_pieces(caller, msg_addr, write=call not in (SEND, SENDNB))
        if pieces is None:
            return -EFAULT
        if call in (SEND, SENDNB):
            return self.send(caller, endpoint, memory.gather(pieces), call == SENDNB)
        # Where the answer goes: a fork copies this, and VM makes it writable
        # in parent and child (the reply may land in a copy-on-write page).
        caller.msg_addr = msg_addr
        if call == SENDREC:
            r, reply = self.sendrec(caller, endpoint, memory.gather(pieces))
        else:
            r, reply = self.receive(caller, endpoint)
        return self._delivered(caller, r, reply)

    def complete_trap(self, p: Proc) -> int:
        """The result of the trap a forked CPU child was created inside: its
        copy of the parent's reply, delivered while it had not yet run."""
        reply, p.delivered = p.delivered, None
        return self._delivered(p, p.ipc_result, reply)

    def _delivered(self, p: Proc, r: int, reply: bytes | None) -> int:
        msg_addr, p.msg_addr = p.msg_addr, 0
        if reply is not None and not self.k.memory.msg_write(p, msg_addr, reply):
            return -EFAULT
        return r

    # -- the mechanisms -------------------------------------------------------

    def _send(self, caller: Proc, dst_e: int, m: bytes, nonblock: bool,
              from_kernel: bool = False) -> int:
        dst = self.k.procs.isokendpt(dst_e)
        if dst is None:
            return -EDEADSRCDST
        if dst.nr < 0:
            return -ECALLDENIED  # kernel tasks take no messages: kernel calls are a trap
        msg = _SOURCE.pack(caller.endpoint) + m[4:]
        if self._willing(dst, caller):
            self._deliver(dst, msg, from_kernel=from_kernel)
            return OK
        if nonblock:
            return -ENOTREADY
        # The kernel's sender is not waiting for anything of its own, so
        # it closes no cycle.
        if not from_kernel and self.deadlock(SEND, caller, dst_e):
            return -ELOCKED
        caller.sendmsg = msg
        caller.send_from_kernel = from_kernel
        caller.sendto_e = dst_e
        caller.ipc_result = OK
        dst.caller_q.append(caller)
        self.k.sched.rts_set(caller, RTS_SENDING)
        return OK

    def _willing(self, dst: Proc, src: Proc) -> bool:
        """Is ``dst`` blocked in a receive that accepts a message from ``src``?

        A sendrec caller is not willing while its own message is still queued."""
        return (
            dst.rts_flags & (RTS_RECEIVING | RTS_SENDING) == RTS_RECEIVING
            and dst.getfrom_e in (ANY, src.endpoint)
        )

    def _deliver(self, dst: Proc, msg: bytes, notified: bool = False,
                 from_kernel: bool = False) -> None:
        self.messages += 1
        dst.notified = notified
        dst.from_kernel = from_kernel
        self.k.trace.message(msg, dst)
        dst.delivered = msg
        dst.ipc_result = OK
        dst.getfrom_e = NONE
        dst.reply_pending = False
        self.k.sched.rts_unset(dst, RTS_RECEIVING)

    def _receive(
        self, caller: Proc, src_e: int, accept_notify: bool
    ) -> tuple[int, bytes | None]:
        if src_e != ANY and self.k.procs.isokendpt(src_e) is None:
            return -EDEADSRCDST, None
        caller.notified = caller.from_kernel = False
        if accept_notify and (msg := self._take_notify(caller, src_e)):
            self.k.trace.message(msg, caller)
            caller.notified = True
            return OK, msg
        if caller.asynmsg and (msg := self._take_asyn(caller, src_e)):
            self.messages += 1
            self.k.trace.message(msg, caller)
            caller.reply_pending = False
            return OK, msg
        if sender := self._take_sender(caller, src_e):
            msg = sender.sendmsg
            assert msg is not None
            caller.from_kernel = sender.send_from_kernel
            sender.sendmsg = None
            sender.send_from_kernel = False
            self.messages += 1
            self.k.trace.message(msg, caller)
            self._sender_done(sender)
            caller.reply_pending = False
            return OK, msg
        if not caller.rts_flags & RTS_SENDING and self.deadlock(RECEIVE, caller, src_e):
            caller.reply_pending = False
            return -ELOCKED, None
        caller.getfrom_e = src_e
        caller.delivered = None
        self.k.sched.rts_set(caller, RTS_RECEIVING)
        self.k.sched.block(caller)
        msg, caller.delivered = caller.delivered, None
        return caller.ipc_result, msg

    def _take_notify(self, caller: Proc, src_e: int) -> bytes | None:
        pending = caller.notify_pending
        if not pending:
            return None
        if src_e == ANY:
            nr = min(pending)
        else:
            src = self.k.procs.isokendpt(src_e)
            if src is None or src.nr not in pending:
                return None
            nr = src.nr
        pending.discard(nr)
        return notify_message(self.k.procs.slot(nr).endpoint)

    def _take_sender(self, caller: Proc, src_e: int) -> Proc | None:
        for sender in caller.caller_q:
            if src_e in (ANY, sender.endpoint):
                caller.caller_q.remove(sender)
                return sender
        return None

    def _sender_done(self, sender: Proc) -> None:
        """The message of a blocked sender was taken; a sendrec caller stays
        blocked receiving (it set RTS_RECEIVING before it blocked)."""
        sender.sendto_e = NONE
        self.k.sched.rts_unset(sender, RTS_SENDING)

    # -- asynchronous messages ------------------------------------------------

    def _senda(self, caller: Proc, table: int, count: int) -> int:
        """Deliver what can be delivered now, and keep the table if anything
        is left. Every entry is checked before any is sent: a bad table
        (EFAULT) or a bad entry (EINVAL) sends nothing."""
        priv = caller.priv
        priv.asyn_table = priv.asyn_size = 0
        if count == 0:
            return OK
        if not 0 < count <= ASYN_MAX:
            return -EINVAL
        raw = self.k.memory.ipc_pieces(caller, table, count * ASYNMSG_SIZE, write=True)
        if raw is None:
            return -EFAULT
        entries = list(ASYNMSG.iter_unpack(self.k.memory.gather(raw)))
        if any(flags and _bad_flags(flags) for flags, _, _, _ in entries):
            return -EINVAL
        pending = notify = False
        for i, (flags, dst_e, _, msg) in enumerate(entries):
            if not flags or flags & AMF_DONE:
                continue
            dst = self.k.procs.isokendpt(dst_e)
            if dst is not None and dst.nr >= 0 and not self._asyn_willing(dst, caller, flags):
                dst.asynmsg = True
                pending = True
                continue
            if dst is None:
                result = -EDEADSRCDST
            elif dst.nr < 0:
                result = -ECALLDENIED  # kernel tasks take no messages
            else:
                result = OK
                self._deliver(dst, _SOURCE.pack(caller.endpoint) + msg[4:])
            self._asyn_done(caller, table, i, flags, dst_e, result)
            notify |= bool(flags & AMF_NOTIFY)
        if pending:
            priv.asyn_table, priv.asyn_size = table, count
        if notify:
            self._asyn_notify(caller)
        return OK

    def _asyn_willing(self, dst: Proc, src: Proc, flags: int) -> bool:
        """Does ``dst``'s receive take an asynchronous message from ``src``?
        An AMF_NOREPLY message is not the reply a sendrec waits for."""
        return self._willing(dst, src) and not (flags & AMF_NOREPLY and dst.reply_pending)

    def _asyn_done(self, src: Proc, table: int, i: int, flags: int, dst_e: int,
                   result: int) -> bool:
        """Mark entry ``i`` of ``src``'s table done with ``result``; False if
        the kernel cannot write it (the table is no longer there)."""
        head = _ASYN_HEAD.pack(flags | AMF_DONE, dst_e, result)
        return self.k.memory.ipc_write(src, table + i * ASYNMSG_SIZE, head)

    def _take_asyn(self, caller: Proc, src_e: int) -> bytes | None:
        """A pending asynchronous message for ``caller`` from ``src_e`` (ANY:
        the lowest sender slot first, each sender's table in order)."""
        if src_e != ANY:
            src = self.k.procs.isokendpt(src_e)
            return None if src is None else self._try_one(src, caller)[0]
        postponed = False
        for src in self.k.procs.live():
            if src.priv.asyn_size:
                msg, held = self._try_one(src, caller)
                if msg is not None:
                    return msg
                postponed |= held
        if not postponed:
            caller.asynmsg = False
        return None

    def _try_one(self, src: Proc, dst: Proc) -> tuple[bytes | None, bool]:
        """The first message for ``dst`` in ``src``'s table, marked done; and
        whether one was held back (AMF_NOREPLY while ``dst`` waits for a
        reply). A table that is gone or corrupt is dropped."""
        priv = src.priv
        if not priv.asyn_size:
            return None, False
        raw = self.k.memory.ipc_read(src, priv.asyn_table, priv.asyn_size * ASYNMSG_SIZE)
        if raw is None:
            priv.asyn_size = 0
            return None, False
        done, held = True, False
        for i, (flags, dst_e, _, msg) in enumerate(ASYNMSG.iter_unpack(raw)):
            if not flags:
                continue
            if _bad_flags(flags):
                priv.asyn_size = 0
                return None, False
            if flags & AMF_DONE:
                continue
            done = False
            if dst_e != dst.endpoint:
                continue
            if flags & AMF_NOREPLY and dst.reply_pending:
                held = True
                continue
            if not self._asyn_done(src, priv.asyn_table, i, flags, dst_e, OK):
                priv.asyn_size = 0
                return None, False
            if flags & AMF_NOTIFY:
                self._asyn_notify(src)
            return _SOURCE.pack(src.endpoint) + msg[4:], held
        if done:
            priv.asyn_size = 0
        return None, held

    def _asyn_dead(self, p: Proc) -> None:
        """``p`` is going away: the messages other tables still hold for it
        are done, with EDEADSRCDST."""
        for src in self.k.procs.live():
            priv = src.priv
            if not priv.asyn_size or src is p:
                continue
            raw = self.k.memory.ipc_read(src, priv.asyn_table, priv.asyn_size * ASYNMSG_SIZE)
            if raw is None:
                continue  # the table is gone: its next receiver drops it
            for i, (flags, dst_e, _, _) in enumerate(ASYNMSG.iter_unpack(raw)):
                if dst_e == p.endpoint and flags & AMF_VALID and not flags & AMF_DONE:
                    self._asyn_done(src, priv.asyn_table, i, flags, dst_e, -EDEADSRCDST)
                    if flags & AMF_NOTIFY:
                        self._asyn_notify(src)

    def _asyn_notify(self, src: Proc) -> None:
        """Tell ``src`` an AMF_NOTIFY message of its table is done (MINIX 3.3)."""
        self.mini_notify(self.k.procs.slot(ASYNCM), src.endpoint)

    def mini_notify(self, src: Proc, dst_e: int) -> int:
        """Notify ``dst_e`` from ``src`` (a process or a kernel task)."""
        dst = self.k.procs.isokendpt(dst_e)
        if dst is None:
            return -EDEADSRCDST
        if dst.nr < 0:
            return -ECALLDENIED
        self.notifies += 1
        if self._willing(dst, src) and not dst.reply_pending:
            self._deliver(dst, notify_message(src.endpoint), notified=True)
        else:
            dst.notify_pending.add(src.nr)
        return OK

    def deadlock(self, function: int, caller: Proc, src_dst_e: int) -> int:
        """Size of the cycle of blocked processes ``caller`` would close, or 0.

        A group of two in which one side sends and the other receives is a
        rendezvous, not a deadlock.
        """
        group = 1
        while src_dst_e != ANY:
            xp = self.k.procs.isokendpt(src_dst_e)
            if xp is None:
                return 0
            group += 1
            if xp.rts_flags & RTS_SENDING:
                src_dst_e = xp.sendto_e
            elif xp.rts_flags & RTS_RECEIVING:
                src_dst_e = xp.getfrom_e
            else:
                return 0
            if src_dst_e == caller.endpoint:
                caller_sends = function == SEND
                xp_sends = bool(xp.rts_flags & RTS_SENDING)
                if group == 2 and caller_sends != xp_sends:
                    return 0
                return group
        return 0

    # -- process death ----------------------------------------------------------

    def clear(self, p: Proc) -> None:
        """Undo every IPC relation of a process that is going away."""
        sched = self.k.sched
        if p.rts_flags & RTS_SENDING:
            dst = self.k.procs.isokendpt(p.sendto_e)
            if dst is not None and p in dst.caller_q:
                dst.caller_q.remove(p)
        for q in list(p.caller_q):
            self._fail(q)
        p.caller_q.clear()
        p.notify_pending.clear()
        p.asynmsg = False
        self._asyn_dead(p)
        for q in self.k.procs.live():
            q.notify_pending.discard(p.nr)
            if q.rts_flags & RTS_RECEIVING and q.getfrom_e == p.endpoint:
                self._fail(q)
        p.sendmsg = p.delivered = None
        p.send_from_kernel = False
        p.sendto_e = p.getfrom_e = NONE
        p.reply_pending = False
        sched.rts_unset(p, RTS_SENDING | RTS_RECEIVING)

    def _fail(self, q: Proc) -> None:
        q.ipc_result = -EDEADSRCDST
        q.sendmsg = q.delivered = None
        q.sendto_e = q.getfrom_e = NONE
        q.reply_pending = False
        self.k.sched.rts_unset(q, RTS_SENDING | RTS_RECEIVING)
