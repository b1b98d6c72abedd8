/* The MINIX 3.2 i386 message: 36 bytes, m_source, m_type and a 28-byte
 * union of the shapes below (minix-exec-fs.md B2; m10 is the block-device
 * requests' shape).  Fields are reached as MINIX reaches them: m.m1_i1 is
 * m.m_u.m_m1.m1i1.
 */
#ifndef _MINIX_IPC_H
#define _MINIX_IPC_H

#include <stddef.h>
#include <sys/types.h>

#define M3_STRING 16

typedef struct { int m1i1, m1i2, m1i3; char *m1p1, *m1p2, *m1p3; } mess_1;
typedef struct { int m2i1, m2i2, m2i3; long m2l1, m2l2; char *m2p1; short m2s1; } mess_2;
typedef struct { int m3i1, m3i2; char *m3p1; char m3ca1[M3_STRING]; } mess_3;
typedef struct { long m4l1, m4l2, m4l3, m4l4, m4l5; } mess_4;
typedef struct { short m5s1, m5s2; int m5i1, m5i2; long m5l1, m5l2, m5l3; } mess_5;
typedef struct { int m7i1, m7i2, m7i3, m7i4, m7i5; char *m7p1, *m7p2; } mess_7;
typedef struct { long m9l1, m9l2, m9l3, m9l4, m9l5; short m9s1, m9s2, m9s3, m9s4; } mess_9;
typedef struct { int m10i1, m10i2, m10i3, m10i4; long m10l1, m10l2, m10l3; } mess_10;

typedef struct {
	endpoint_t m_source;	/* who sent the message (set by the kernel) */
	int m_type;		/* call number in a request, result in a reply */
	union {
		mess_1 m_m1;
		mess_2 m_m2;
		mess_3 m_m3;
		mess_4 m_m4;
		mess_5 m_m5;
		mess_7 m_m7;
		mess_9 m_m9;
		mess_10 m_m10;
	} m_u;
} message;

#define m1_i1 m_u.m_m1.m1i1
#define m1_i2 m_u.m_m1.m1i2
#define m1_i3 m_u.m_m1.m1i3
#define m1_p1 m_u.m_m1.m1p1
#define m1_p2 m_u.m_m1.m1p2
#define m1_p3 m_u.m_m1.m1p3

#define m2_i1 m_u.m_m2.m2i1
#define m2_i2 m_u.m_m2.m2i2
#define m2_i3 m_u.m_m2.m2i3
#define m2_l1 m_u.m_m2.m2l1
#define m2_l2 m_u.m_m2.m2l2
#define m2_p1 m_u.m_m2.m2p1
#define m2_s1 m_u.m_m2.m2s1

#define m3_i1 m_u.m_m3.m3i1
#define m3_i2 m_u.m_m3.m3i2
#define m3_p1 m_u.m_m3.m3p1
#define m3_ca1 m_u.m_m3.m3ca1

#define m4_l1 m_u.m_m4.m4l1
#define m4_l2 m_u.m_m4.m4l2
#define m4_l3 m_u.m_m4.m4l3
#define m4_l4 m_u.m_m4.m4l4
#define m4_l5 m_u.m_m4.m4l5

#define m5_s1 m_u.m_m5.m5s1
#define m5_s2 m_u.m_m5.m5s2
#define m5_i1 m_u.m_m5.m5i1
#define m5_i2 m_u.m_m5.m5i2
#define m5_l1 m_u.m_m5.m5l1
#define m5_l2 m_u.m_m5.m5l2
#define m5_l3 m_u.m_m5.m5l3

#define m7_i1 m_u.m_m7.m7i1
#define m7_i2 m_u.m_m7.m7i2
#define m7_i3 m_u.m_m7.m7i3
#define m7_i4 m_u.m_m7.m7i4
#define m7_i5 m_u.m_m7.m7i5
#define m7_p1 m_u.m_m7.m7p1
#define m7_p2 m_u.m_m7.m7p2

#define m9_l1 m_u.m_m9.m9l1
#define m9_l2 m_u.m_m9.m9l2
#define m9_l3 m_u.m_m9.m9l3
#define m9_l4 m_u.m_m9.m9l4
#define m9_l5 m_u.m_m9.m9l5
#define m9_s1 m_u.m_m9.m9s1
#define m9_s2 m_u.m_m9.m9s2
#define m9_s3 m_u.m_m9.m9s3
#define m9_s4 m_u.m_m9.m9s4

#define m10_i1 m_u.m_m10.m10i1
#define m10_i2 m_u.m_m10.m10i2
#define m10_i3 m_u.m_m10.m10i3
#define m10_i4 m_u.m_m10.m10i4
#define m10_l1 m_u.m_m10.m10l1
#define m10_l2 m_u.m_m10.m10l2
#define m10_l3 m_u.m_m10.m10l3

/* The reference's table, checked whenever anything includes this file:
 * a layout that drifts from MINIX's breaks the build.
 */
#define _MSG_AT(field, off) \
	_Static_assert(offsetof(message, field) == (off), #field " is not at " #off)
_Static_assert(sizeof(message) == 36, "a MINIX 3.2 message is 36 bytes");
_MSG_AT(m_source, 0); _MSG_AT(m_type, 4);
_MSG_AT(m1_i1, 8); _MSG_AT(m1_i2, 12); _MSG_AT(m1_i3, 16);
_MSG_AT(m1_p1, 20); _MSG_AT(m1_p2, 24); _MSG_AT(m1_p3, 28);
_MSG_AT(m2_i1, 8); _MSG_AT(m2_i2, 12); _MSG_AT(m2_i3, 16);
_MSG_AT(m2_l1, 20); _MSG_AT(m2_l2, 24); _MSG_AT(m2_p1, 28); _MSG_AT(m2_s1, 32);
_MSG_AT(m3_i1, 8); _MSG_AT(m3_i2, 12); _MSG_AT(m3_p1, 16); _MSG_AT(m3_ca1, 20);
_MSG_AT(m4_l1, 8); _MSG_AT(m4_l2, 12); _MSG_AT(m4_l3, 16); _MSG_AT(m4_l4, 20);
_MSG_AT(m4_l5, 24);
_MSG_AT(m5_s1, 8); _MSG_AT(m5_s2, 10); _MSG_AT(m5_i1, 12); _MSG_AT(m5_i2, 16);
_MSG_AT(m5_l1, 20); _MSG_AT(m5_l2, 24); _MSG_AT(m5_l3, 28);
_MSG_AT(m7_i1, 8); _MSG_AT(m7_i2, 12); _MSG_AT(m7_i3, 16); _MSG_AT(m7_i4, 20);
_MSG_AT(m7_i5, 24); _MSG_AT(m7_p1, 28); _MSG_AT(m7_p2, 32);
_MSG_AT(m9_l1, 8); _MSG_AT(m9_l2, 12); _MSG_AT(m9_l3, 16); _MSG_AT(m9_l4, 20);
_MSG_AT(m9_l5, 24); _MSG_AT(m9_s1, 28); _MSG_AT(m9_s2, 30); _MSG_AT(m9_s3, 32);
_MSG_AT(m9_s4, 34);
_MSG_AT(m10_i1, 8); _MSG_AT(m10_i2, 12); _MSG_AT(m10_i3, 16); _MSG_AT(m10_i4, 20);
_MSG_AT(m10_l1, 24); _MSG_AT(m10_l2, 28); _MSG_AT(m10_l3, 32);
#undef _MSG_AT

#define SEND		1	/* the IPC primitives, passed in ecx */
#define RECEIVE		2
#define SENDREC		3
#define NOTIFY		4
#define SENDNB		5

#define IPCVEC		33	/* int $0x21: the IPC trap */

int _sendrec(endpoint_t src_dest, message *m_ptr);

#endif /* _MINIX_IPC_H */
