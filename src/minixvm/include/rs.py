"""RS requests and the SEF protocol (MINIX <minix/com.h>, RS_RQ_BASE).

A service started by RS first receives RS_INIT (the SEF init message: a
fresh start or a restart) and answers it with RS_INIT and its result; from
then on RS pings it with notifications, and SEF answers each with one
back. Labels travel by grant: the caller's buffer, its length.
"""

from __future__ import annotations

from minixvm.include.ipc import Message, layout, m1_i1, m1_i2, m1_i3, register_names

RS_RQ_BASE = 0x700
RS_DOWN = RS_RQ_BASE + 1  # stop a service (it is not restarted)
RS_RESTART = RS_RQ_BASE + 3  # restart a service now
RS_LOOKUP = RS_RQ_BASE + 8  # the endpoint of the service with a label
RS_INIT = RS_RQ_BASE + 20  # SEF init: RS -> service, and the service's answer
# minixvm's own: a panicking service hands RS its panic text before it exits.
RS_CRASH_REPORT = RS_RQ_BASE + 30
register_names(globals(), "RS_", RS_RQ_BASE)

# SEF init types (RS_INIT's ``type``).
SEF_INIT_FRESH = 0
SEF_INIT_RESTART = 2

RS_MAX_LABEL_LEN = 16  # a label, its NUL included
CRASH_TEXT_MAX = 512


@layout(RS_DOWN, RS_RESTART, RS_LOOKUP)
class RsRequest(Message):
    grant = m1_i1  # the label, granted to RS for reading
    length = m1_i2  # its length, NUL included
    endpoint = m1_i3  # RS_LOOKUP's reply


@layout(RS_INIT)
class RsInit(Message):
    type = m1_i1  # SEF_INIT_FRESH or SEF_INIT_RESTART
    result = m1_i2  # the service's answer: OK, or why it cannot run


@layout(RS_CRASH_REPORT)
class RsCrashReport(Message):
    grant = m1_i1  # the panic text, granted to RS for reading
    length = m1_i2
