#include <lib.h>
#include <string.h>
#include <sys/mman.h>

/* Anonymous mappings from VM, for this process (for-whom = SELF). */
void *minix_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t offset)
{
	message m;

	memset(&m, 0, sizeof(m));
	m.VMM_ADDR = (long)addr;
	m.VMM_LEN = (long)len;
	m.VMM_PROT = (short)prot;
	m.VMM_FLAGS = (short)flags;
	m.VMM_FD = fd;
	m.VMM_OFFSET = offset;
	m.VMM_FORWHOM = SELF;
	if (_syscall(VM_PROC_NR, VM_MMAP, &m) < 0)
		return MAP_FAILED;
	return (void *)m.VMM_RETADDR;
}

int minix_munmap(void *addr, size_t len)
{
	message m;

	memset(&m, 0, sizeof(m));
	m.VMUM_ADDR = addr;
	m.VMUM_LEN = (int)len;
	return _syscall(VM_PROC_NR, VM_MUNMAP, &m);
}

/* Protection of [addr, addr+len): 0, or -1 with errno (EINVAL, ENOMEM). */
int mprotect(void *addr, size_t len, int prot)
{
	message m;

	memset(&m, 0, sizeof(m));
	m.VMPR_ADDR = addr;
	m.VMPR_LEN = (int)len;
	m.VMPR_PROT = prot;
	return _syscall(VM_PROC_NR, VM_MPROTECT, &m) < 0 ? -1 : 0;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t offset)
	__attribute__((alias("minix_mmap")));
int munmap(void *addr, size_t len) __attribute__((alias("minix_munmap")));
