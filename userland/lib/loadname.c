#include <lib.h>
#include <string.h>

/* A name in the m3 form: its length with the NUL and its address, and the
 * name itself in m3_ca1 when it fits, which saves VFS a copy.
 */
void _loadname(const char *name, message *msgptr)
{
	size_t k = strlen(name) + 1;

	msgptr->m3_i1 = (int)k;
	msgptr->m3_p1 = (char *)name;
	if (k <= M3_STRING)
		memcpy(msgptr->m3_ca1, name, k);
}
