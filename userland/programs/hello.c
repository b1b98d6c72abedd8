/* The smallest program: one WRITE to VFS. */
#include <unistd.h>

int main(void)
{
	static const char greeting[] = "hello, world\n";

	if (write(1, greeting, sizeof(greeting) - 1) != sizeof(greeting) - 1)
		return 1;
	return 0;
}
