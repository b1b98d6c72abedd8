/* Endpoints of the boot processes and the VM requests the library sends
 * (MINIX 3.2 include/minix/com.h).
 */
#ifndef _MINIX_COM_H
#define _MINIX_COM_H

#define PM_PROC_NR	0
#define VFS_PROC_NR	1
#define VM_PROC_NR	8

/* A process's name for itself, as the for-whom of VM_MMAP. */
#define SELF		0x8ace

#define VM_RQ_BASE	0xC00

#define VM_MMAP		(VM_RQ_BASE + 10)
#define VMM_ADDR	m5_l1
#define VMM_LEN		m5_l2
#define VMM_PROT	m5_s1
#define VMM_FLAGS	m5_s2
#define VMM_FD		m5_i1
#define VMM_OFFSET	m5_i2
#define VMM_FORWHOM	m5_l3
#define VMM_RETADDR	m5_l1	/* in the reply */

#define VM_MUNMAP	(VM_RQ_BASE + 17)
#define VMUM_ADDR	m1_p1
#define VMUM_LEN	m1_i1

/* minixvm's own (MINIX 3.2 has no mprotect): laid out as VM_MUNMAP. */
#define VM_MPROTECT	(VM_RQ_BASE + 48)
#define VMPR_ADDR	m1_p1
#define VMPR_LEN	m1_i1
#define VMPR_PROT	m1_i2

#endif /* _MINIX_COM_H */
