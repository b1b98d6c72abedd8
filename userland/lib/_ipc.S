/* int _sendrec(endpoint_t src_dest, message *m_ptr)
 * The IPC trap: eax = endpoint, ebx = message, ecx = SENDREC; the kernel's
 * status comes back in eax.  ebx is callee-saved in the i386 ABI, so keep it.
 */
	.text
	.globl	_sendrec
	.type	_sendrec, @function
_sendrec:
	pushl	%ebx
	movl	8(%esp), %eax		/* src_dest */
	movl	12(%esp), %ebx		/* m_ptr */
	movl	$3, %ecx		/* SENDREC */
	int	$0x21			/* IPCVEC */
	popl	%ebx
	ret
	.size	_sendrec, . - _sendrec

	.section .note.GNU-stack, "", @progbits
