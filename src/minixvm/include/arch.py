"""The i386 memory layout minixvm uses (physical and virtual)."""

from __future__ import annotations

I386_PAGE_SIZE = 4096
BIG_PAGE = 4 << 20

# Physical: the kernel image occupies the low 8 MiB.
#   [0, KERNEL_TEXT)            the first pages: never mapped
#   [KERNEL_TEXT, KERNEL_DATA)  kernel text, read-only
#   [KERNEL_DATA, 4 MiB)        kernel data (incl. the boot page directory)
#   [4 MiB, KERNEL_END)         kernel memory mapped with one 4 MiB global page
KERNEL_TEXT = 0x4000
KERNEL_DATA = 0x100000
KERNEL_END = 8 << 20
# Boot processes are loaded above the kernel; until VM gives them their own
# page tables they run on one 4 MiB global (user) mapping of this area.
BOOT_AREA = KERNEL_END
BOOT_AREA_END = BOOT_AREA + BIG_PAGE
BOOT_IMAGE_PAGES = 1
BOOT_PREALLOC_PAGES = 15

# Virtual: the kernel's mappings are at the same addresses in every space.
USER_BASE = BOOT_AREA
VM_DATATOP = 0xF0000000
# The PDE at which VM installs the table of every process's page directory.
PAGEDIRS_PDE = 0x3FF
PAGEDIRS_BASE = PAGEDIRS_PDE << 22
# Python programs: a data page at the usual ELF base, heap after it.
VM_STACKTOP = 0x80000000
DEFAULT_STACK_SIZE = 64 << 10
PY_DATA_BASE = 0x08048000
# Where mmap puts regions when no address is asked for (below the stack).
VM_MMAPBASE = USER_BASE
VM_MMAPTOP = VM_STACKTOP - (4 << 20)
