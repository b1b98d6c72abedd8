/* The layouts of struct stat and struct minix_prev_stat as this library
 * compiles them: `sizeof(struct NAME) SIZE`, then `NAME.FIELD OFFSET` for
 * every field, one per line.
 */
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

struct field {
	const char *name;
	unsigned int offset;
};

#define STAT(f) { #f, offsetof(struct stat, f) }
#define PREV(f) { #f, offsetof(struct minix_prev_stat, f) }

static const struct field stat_fields[] = {
	STAT(st_dev), STAT(st_mode), STAT(st_ino), STAT(st_nlink), STAT(st_uid),
	STAT(st_gid), STAT(st_rdev), STAT(st_atime), STAT(st_atimensec), STAT(st_mtime),
	STAT(st_mtimensec), STAT(st_ctime), STAT(st_ctimensec), STAT(st_birthtime),
	STAT(st_birthtimensec), STAT(st_size), STAT(st_blocks), STAT(st_blksize),
	STAT(st_flags), STAT(st_gen), STAT(st_spare),
};

static const struct field prev_fields[] = {
	PREV(st_dev), PREV(st_ino), PREV(st_mode), PREV(st_nlink), PREV(st_uid),
	PREV(st_gid), PREV(st_rdev), PREV(st_size), PREV(st_atime), PREV(st_mtime),
	PREV(st_ctime),
};

static void print(const char *type, unsigned int size, const struct field *f,
	unsigned int n)
{
	unsigned int i;

	printf("sizeof(struct %s) %u\n", type, size);
	for (i = 0; i < n; i++)
		printf("%s.%s %u\n", type, f[i].name, f[i].offset);
}

int main(void)
{
	print("stat", sizeof(struct stat), stat_fields,
		sizeof(stat_fields) / sizeof(stat_fields[0]));
	print("minix_prev_stat", sizeof(struct minix_prev_stat), prev_fields,
		sizeof(prev_fields) / sizeof(prev_fields[0]));
	return 0;
}
