/* Program entry.  exec leaves at %esp: argc, argv[0..argc-1], NULL,
 * envp[...], NULL, with the pointers already absolute (minix-exec-fs.md A7).
 * %esp is only 4-byte aligned there, and gcc's i386 code expects 16 at a
 * call, so align before calling main(argc, argv, envp); its result goes to
 * exit().  The other registers are whatever the exec'ing process had.
 */
	.text
	.globl	_start
	.type	_start, @function
_start:
	xorl	%ebp, %ebp		/* the outermost frame, for backtraces */
	movl	(%esp), %eax		/* argc */
	leal	4(%esp), %edx		/* argv */
	leal	8(%esp,%eax,4), %ecx	/* envp = &argv[argc + 1] */
	andl	$-16, %esp
	subl	$4, %esp		/* 4 + 3 pushes = 16: aligned at the call */
	pushl	%ecx
	pushl	%edx
	pushl	%eax
	call	main
	movl	%eax, (%esp)
	call	exit
	.size	_start, . - _start

	.section .note.GNU-stack, "", @progbits
