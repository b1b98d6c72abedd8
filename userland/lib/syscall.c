#include <errno.h>
#include <lib.h>

/* Send a request and take the reply into the same message.  A failed trap
 * (ETRAPDENIED, EFAULT, ...) is reported like an error reply, so callers
 * see one convention: -1 with errno set, else the reply's m_type.
 */
int _syscall(endpoint_t who, int syscallnr, message *msgptr)
{
	int status;

	msgptr->m_type = syscallnr;
	status = _sendrec(who, msgptr);
	if (status != 0)
		msgptr->m_type = status;
	if (msgptr->m_type < 0) {
		errno = -msgptr->m_type;
		return -1;
	}
	return msgptr->m_type;
}
