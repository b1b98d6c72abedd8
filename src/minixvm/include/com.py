"""Process numbers, endpoints and kernel call numbers (MINIX <minix/com.h>)."""

from __future__ import annotations

import struct

from minixvm.include.ipc import (
    Message,
    layout,
    m1_i1,
    m1_i2,
    m1_i3,
    m1_p1,
    m1_p2,
    m1_p3,
    m2_i1,
    m2_i2,
    m2_i3,
    m2_l1,
    m2_l2,
    m2_p1,
    m2_s1,
    m3_ca1,
    m3_i1,
    m3_i2,
    m4_l1,
    m4_l2,
    m4_l3,
    m4_l4,
    m5_i1,
    m5_i2,
    m5_l1,
    m5_l2,
    m5_l3,
    m7_i1,
    m7_i2,
    m7_i3,
    m7_i4,
    m7_i5,
    m7_p1,
    m7_p2,
    register_names,
    signed,
    unsigned,
)

# Endpoints carry a generation number above the slot number, so that a
# message to a dead process's endpoint can never reach the slot's next user.
_ENDPOINT_GENERATION_SHIFT = 15
_ENDPOINT_GENERATION_SIZE = 1 << _ENDPOINT_GENERATION_SHIFT
MAX_NR_TASKS = 1023
_ENDPOINT_SLOT_TOP = _ENDPOINT_GENERATION_SIZE - MAX_NR_TASKS
_ENDPOINT_MAX_GENERATION = (2**31 - 1) // _ENDPOINT_GENERATION_SIZE - 1

ANY = _ENDPOINT_SLOT_TOP - 1
NONE = _ENDPOINT_SLOT_TOP - 2
SELF = _ENDPOINT_SLOT_TOP - 3


def _ENDPOINT(gen: int, slot: int) -> int:  # noqa: N802 - MINIX's name
    """Endpoint of slot ``slot`` in generation ``gen``."""
    return (gen << _ENDPOINT_GENERATION_SHIFT) + slot


def _ENDPOINT_G(e: int) -> int:  # noqa: N802
    """Generation number of an endpoint."""
    return (e + MAX_NR_TASKS) >> _ENDPOINT_GENERATION_SHIFT


def _ENDPOINT_P(e: int) -> int:  # noqa: N802
    """Slot number of an endpoint."""
    return ((e + MAX_NR_TASKS) & (_ENDPOINT_GENERATION_SIZE - 1)) - MAX_NR_TASKS


# Kernel tasks (negative slots).
NR_TASKS = 5
ASYNCM = -5
IDLE = -4
CLOCK = -3
SYSTEM = -2
KERNEL = -1
HARDWARE = KERNEL

# Boot processes.
PM_PROC_NR = 0
VFS_PROC_NR = 1
RS_PROC_NR = 2
MEM_PROC_NR = 3
SCHED_PROC_NR = 4
TTY_PROC_NR = 5
DS_PROC_NR = 6
VM_PROC_NR = 8
PFS_PROC_NR = 9
INIT_PROC_NR = 11
LAST_SPECIAL_PROC_NR = 11

NR_PROCS = 256

# Clock ticks per simulated second (MINIX's system_hz). A tick is one dispatch.
SYSTEM_HZ = 1000

# IPC
NOTIFY_MESSAGE = 0x1000

# Kernel calls (messages to SYSTEM).
KERNEL_CALL = 0x600
SYS_FORK = KERNEL_CALL + 0
SYS_EXEC = KERNEL_CALL + 1
SYS_CLEAR = KERNEL_CALL + 2
SYS_PRIVCTL = KERNEL_CALL + 4
SYS_KILL = KERNEL_CALL + 6
SYS_GETKSIG = KERNEL_CALL + 7
SYS_ENDKSIG = KERNEL_CALL + 8
SYS_MEMSET = KERNEL_CALL + 13
SYS_UMAP = KERNEL_CALL + 14
SYS_VIRCOPY = KERNEL_CALL + 15
SYS_PHYSCOPY = KERNEL_CALL + 16
SYS_SETALARM = KERNEL_CALL + 24
SYS_TIMES = KERNEL_CALL + 25
SYS_GETINFO = KERNEL_CALL + 26
SYS_ABORT = KERNEL_CALL + 27
SYS_SAFECOPYFROM = KERNEL_CALL + 31
SYS_SAFECOPYTO = KERNEL_CALL + 32
SYS_VSAFECOPY = KERNEL_CALL + 33
SYS_SETGRANT = KERNEL_CALL + 34
SYS_VMCTL = KERNEL_CALL + 43
SYS_SAFEMAP = KERNEL_CALL + 47
SYS_SAFEREVMAP = KERNEL_CALL + 48
SYS_SAFEUNMAP = KERNEL_CALL + 49
SYS_DIAGCTL = KERNEL_CALL + 58

# SYS_GETINFO requests.
GET_WHOAMI = 1
GET_KINFO = 6

# SYS_DIAGCTL codes: a line on the console, or an event for the system trace
# (``about`` names the process it concerns; the text is "KIND DETAILS").
DIAGCTL_CODE_DIAG = 1
DIAGCTL_CODE_TRACE = 2

# SYS_PRIVCTL requests.
SYS_PRIV_ALLOW = 1
SYS_PRIV_DISALLOW = 2
SYS_PRIV_SET_SYS = 3
SYS_PRIV_SET_USER = 4

# SYS_VMCTL parameters.
VMCTL_CLEAR_PAGEFAULT = 12
VMCTL_MEMREQ_GET = 14
VMCTL_MEMREQ_REPLY = 15
VMCTL_FLUSHTLB = 26
VMCTL_SETADDRSPACE = 29
VMCTL_I386_PAGEDIRS = 30

# Kinds of memory request a kernel call can queue for VM (VMCTL_MEMREQ_GET).
VMPTYPE_CHECK = 1
VMPTYPE_COWMAP = 2
VMPTYPE_SMAP = 3
VMPTYPE_SUNMAP = 4


register_names(globals(), "SYS_", KERNEL_CALL)
register_names(globals(), "NOTIFY_MESSAGE", NOTIFY_MESSAGE, 1)


# -- kernel-call message layouts (the SYS_* #defines of <minix/com.h>) ---------------

@layout(SYS_FORK)
class SysFork(Message):
    parent = m1_i1  # PR_ENDPT
    slot = m1_i2  # PR_SLOT
    child_ep = m1_i3  # reply
    # Reply, PR_FORK_MSGADDR: where the parent's pending reply goes (a CPU
    # process's message in its memory; 0 for a Python process).
    msgaddr = m1_p1


@layout(SYS_EXEC)
class SysExec(Message):
    endpoint = m1_i1  # PR_ENDPT
    sp = m1_p1  # PR_STACK_PTR (a Python process: its static data page)
    name = m1_p2  # PR_NAME_PTR: the program's name, in the caller's memory
    pc = m1_p3  # PR_IP_PTR: where it starts (a loaded Python text)


@layout(SYS_CLEAR)
class SysClear(Message):
    endpoint = m1_i1


@layout(SYS_PRIVCTL)
class SysPrivctl(Message):
    endpoint = m2_i1  # CTL_ENDPT
    request = m2_i2  # CTL_REQUEST
    # The kernel-call mask: bit n allows KERNEL_CALL + n.
    calls_lo = unsigned(m2_l1)
    calls_hi = unsigned(m2_l2)


@layout(SYS_KILL, SYS_ENDKSIG)
class SysSig(Message):
    endpoint = m2_i1  # SIG_ENDPT
    sig = m2_i2  # SIG_NUMBER


@layout(SYS_GETKSIG)
class SysGetksig(Message):
    endpoint = m2_i1  # reply: SIG_ENDPT
    sigmap = unsigned(m2_l1)  # reply: SIG_MAP


@layout(SYS_MEMSET)
class SysMemset(Message):
    process = m2_i1  # MEM_PROCESS: whose virtual memory, or NONE for physical memory
    addr = m2_p1  # MEM_PTR
    bytes = m2_l1  # MEM_COUNT
    pattern = m2_l2  # MEM_PATTERN


@layout(SYS_UMAP)
class SysUmap(Message):
    endpoint = m5_i1  # CP_SRC_ENDPT
    addr = unsigned(m5_l1)  # CP_SRC_ADDR
    phys = unsigned(m5_l2)  # reply: CP_DST_ADDR
    bytes = m5_l3  # CP_NR_BYTES


@layout(SYS_VIRCOPY, SYS_PHYSCOPY)
class SysCopy(Message):
    src_ep = m5_i1  # CP_SRC_ENDPT (vircopy only)
    dst_ep = m5_i2  # CP_DST_ENDPT
    src_addr = unsigned(m5_l1)
    dst_addr = unsigned(m5_l2)
    bytes = m5_l3


@layout(SYS_SETALARM)
class SysSetalarm(Message):
    exp_time = m2_l1  # ALRM_EXP_TIME; reply ALRM_TIME_LEFT
    abs_time = m2_i2  # ALRM_ABS_TIME: exp_time is an uptime, not a delay


@layout(SYS_TIMES)
class SysTimes(Message):
    endpoint = m4_l1  # T_ENDPT
    user_time = m4_l2  # replies
    sys_time = m4_l3
    uptime = m4_l4


@layout(SYS_GETINFO)
class SysGetinfo(Message):
    request = m1_i3  # I_REQUEST
    val_ptr = m1_p1  # I_VAL_PTR: where GET_KINFO copies struct kinfo
    val_len = m1_i2  # I_VAL_LEN
    who_endpoint = m3_i1  # GET_WHOAMI replies (GIWHO_*)
    who_privflags = m3_i2
    who_name = m3_ca1


@layout(SYS_DIAGCTL)
class SysDiagctl(Message):
    code = m1_i1  # DIAGCTL_CODE
    text_addr = m1_p1  # DIAGCTL_ARG1: the text, in the caller's memory
    text_len = m1_i2  # DIAGCTL_ARG2
    about = m1_i3  # DIAGCTL_CODE_TRACE: the endpoint the event concerns


@layout(SYS_ABORT)
class SysAbort(Message):
    how = m1_i1  # ABRT_HOW


@layout(SYS_SETGRANT)
class SysSetgrant(Message):
    addr = m2_p1  # SG_ADDR
    entries = m2_i2  # SG_SIZE


@layout(SYS_SAFECOPYFROM, SYS_SAFECOPYTO)
class SysSafecopy(Message):
    granter = m2_i1  # SCP_FROM_TO
    grant = m2_i3  # SCP_GID
    offset = unsigned(m2_l1)  # SCP_OFFSET
    address = m2_p1  # SCP_ADDRESS
    bytes = m2_l2  # SCP_BYTES


@layout(SYS_VSAFECOPY)
class SysVsafecopy(Message):
    vec_addr = m2_p1  # VSCP_VEC_ADDR: an array of vscp_vec in the caller's memory
    vec_size = m2_i2  # VSCP_VEC_SIZE
    done = m2_i1  # reply: elements done


@layout(SYS_SAFEMAP)
class SysSafemap(Message):
    granter = m2_i1  # SMAP_EP
    grant = m2_i2  # SMAP_GRANT
    offset = unsigned(m2_i3)  # SMAP_OFFSET
    address = m2_p1  # SMAP_ADDRESS
    bytes = m2_l2  # SMAP_BYTES
    writable = m2_s1  # SMAP_FLAG


@layout(SYS_SAFEREVMAP)
class SysSaferevmap(Message):
    flag = m2_s1  # SMAP_FLAG: 0 by grant id, 1 by address
    grant = m2_i2
    address = m2_p1


@layout(SYS_SAFEUNMAP)
class SysSafeunmap(Message):
    address = m2_p1


@layout(SYS_VMCTL)
class SysVmctl(Message):
    who = m1_i1  # SVMCTL_WHO
    param = m1_i2  # SVMCTL_PARAM
    value = m1_p1  # SVMCTL_VALUE
    result = signed(m1_p1)  # VMCTL_MEMREQ_REPLY: VM's answer, OK or -errno
    # VMCTL_MEMREQ_GET reply (the request type is the result).
    mr_requestor = m7_i1
    mr_target = m7_i2
    mr_addr = unsigned(m7_i3)
    mr_length = m7_i4
    mr_write = m7_i5
    mr_ep2 = signed(m7_p1)
    mr_addr2 = m7_p2


# A kernel call's vector element (struct vscp_vec): six 32-bit words.
VSCP_VEC = struct.Struct("<iiiIII")


# Notifications: the kernel fills in the sender (and nothing the receiver needs).
@layout(NOTIFY_MESSAGE)
class Notify(Message):
    pass
