#include <lib.h>
#include <string.h>
#include <unistd.h>

/* EXEC to PM.  The frame becomes the new program's initial stack; it is
 * built here with offsets from its start (PM's side adds the address where
 * it lands) as MINIX 3.2 lays it out: argc, argv[], NULL, envp[], NULL, then
 * the strings, padded to 4 bytes.  Flags 0: no AuxInfo slots and no space
 * for the executable's name, which only dynamic programs use.
 */

static size_t count(char *const vec[])
{
	size_t n = 0;

	while (vec != NULL && vec[n] != NULL)
		n++;
	return n;
}

static size_t string_bytes(char *const vec[], size_t n)
{
	size_t total = 0;

	while (n-- > 0)
		total += strlen(vec[n]) + 1;
	return total;
}

/* Store vec's n strings at *str and their offsets, then a NULL, at slot. */
static long *put_strings(long *slot, char **str, const char *frame,
	char *const vec[], size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		*slot++ = *str - frame;
		strcpy(*str, vec[i]);
		*str += strlen(vec[i]) + 1;
	}
	*slot++ = 0;
	return slot;
}

int execve(const char *path, char *const argv[], char *const envp[])
{
	size_t argc = count(argv), envc = count(envp);
	size_t ptr_bytes = (1 + argc + 1 + envc + 1) * sizeof(long);
	size_t str_bytes = string_bytes(argv, argc) + string_bytes(envp, envc);
	size_t frame_len = ptr_bytes + ((str_bytes + 3) & ~3u);
	char *frame, *str;
	long *slot;
	message m;

	/* The break is a scratch area that survives only until exec succeeds. */
	frame = sbrk((intptr_t)frame_len);
	if (frame == (char *)-1)
		return -1;
	memset(frame, 0, frame_len);
	slot = (long *)frame;
	str = frame + ptr_bytes;
	*slot++ = (long)argc;
	slot = put_strings(slot, &str, frame, argv, argc);
	put_strings(slot, &str, frame, envp, envc);

	memset(&m, 0, sizeof(m));
	m.m1_i1 = (int)strlen(path) + 1;
	m.m1_i2 = (int)frame_len;
	m.m1_p1 = (char *)path;
	m.m1_p2 = frame;
	m.m1_i3 = 0;
	_syscall(PM_PROC_NR, EXEC, &m);

	/* Still here: exec failed and errno says why. */
	sbrk(-(intptr_t)frame_len);
	return -1;
}
