/* The message layout as this library compiles it: printed when run, and
 * kept in message_fields[] (name, offset, size) for host tools that read
 * the ELF file and compare with MINIX's table.
 */
#include <minix/ipc.h>

#include "check.h"

struct field {
	const char *name;
	unsigned int offset;
	unsigned int size;
};

#define FIELD(f) { #f, offsetof(message, f), sizeof(((message *)0)->f) }

const unsigned int message_size = sizeof(message);
const struct field message_fields[] = {
	FIELD(m_source), FIELD(m_type),
	FIELD(m1_i1), FIELD(m1_i2), FIELD(m1_i3), FIELD(m1_p1), FIELD(m1_p2), FIELD(m1_p3),
	FIELD(m2_i1), FIELD(m2_i2), FIELD(m2_i3), FIELD(m2_l1), FIELD(m2_l2), FIELD(m2_p1),
	FIELD(m2_s1),
	FIELD(m3_i1), FIELD(m3_i2), FIELD(m3_p1), FIELD(m3_ca1),
	FIELD(m4_l1), FIELD(m4_l2), FIELD(m4_l3), FIELD(m4_l4), FIELD(m4_l5),
	FIELD(m5_s1), FIELD(m5_s2), FIELD(m5_i1), FIELD(m5_i2), FIELD(m5_l1), FIELD(m5_l2),
	FIELD(m5_l3),
	FIELD(m7_i1), FIELD(m7_i2), FIELD(m7_i3), FIELD(m7_i4), FIELD(m7_i5), FIELD(m7_p1),
	FIELD(m7_p2),
	FIELD(m9_l1), FIELD(m9_l2), FIELD(m9_l3), FIELD(m9_l4), FIELD(m9_l5), FIELD(m9_s1),
	FIELD(m9_s2), FIELD(m9_s3), FIELD(m9_s4),
	FIELD(m10_i1), FIELD(m10_i2), FIELD(m10_i3), FIELD(m10_i4), FIELD(m10_l1),
	FIELD(m10_l2), FIELD(m10_l3),
};

int main(void)
{
	unsigned int i;

	printf("sizeof(message) %u\n", message_size);
	for (i = 0; i < sizeof(message_fields) / sizeof(message_fields[0]); i++)
		printf("%s %u %u\n", message_fields[i].name, message_fields[i].offset,
			message_fields[i].size);
	return 0;
}
