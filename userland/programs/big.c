/* For the exec benchmark: a 1 MiB initialised array makes the file (not
 * only the memory image) about 1 MiB.  Touch one byte of it and exit.
 */
static const char blob[1 << 20] = { 1 };

int main(void)
{
	return *(volatile const char *)blob == 1 ? 0 : 1;
}
