#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A printf subset: %d %i %u %x %X %p %s %c %%, with a width and the '-'
 * and '0' flags; 'l' is accepted and ignored (long is int here).  Output
 * collects in a small buffer that is written to fd 1 when full and at the
 * end of every call.
 */

struct out {
	char buf[128];
	size_t len;
	int total;
};

struct spec {
	int width;
	int left;	/* '-': pad on the right */
	int zero;	/* '0': pad with zeros after the sign or 0x */
};

static void flush(struct out *o)
{
	if (o->len > 0)
		write(1, o->buf, o->len);
	o->len = 0;
}

static void put(struct out *o, char c)
{
	if (o->len == sizeof(o->buf))
		flush(o);
	o->buf[o->len++] = c;
	o->total++;
}

static void put_n(struct out *o, const char *s, int n)
{
	while (n-- > 0)
		put(o, *s++);
}

static void pad(struct out *o, int n, char c)
{
	while (n-- > 0)
		put(o, c);
}

/* One conversion: prefix ("-", "0x" or "") and body, padded to the width. */
static void emit(struct out *o, const struct spec *sp, const char *prefix,
	const char *body, int len)
{
	int plen = (int)strlen(prefix);
	int fill = sp->width - plen - len;

	if (!sp->left && !sp->zero)
		pad(o, fill, ' ');
	put_n(o, prefix, plen);
	if (!sp->left && sp->zero)
		pad(o, fill, '0');
	put_n(o, body, len);
	if (sp->left)
		pad(o, fill, ' ');
}

/* Digits of v, written backwards ending at end; returns their count. */
static int digits(char *end, unsigned int v, unsigned int base, int upper)
{
	const char *set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	int n = 0;

	do {
		*--end = set[v % base];
		v /= base;
		n++;
	} while (v != 0);
	return n;
}

static void number(struct out *o, const struct spec *sp, char conv, unsigned int v)
{
	char buf[12];
	const char *prefix = "";
	int n;

	if ((conv == 'd' || conv == 'i') && (int)v < 0) {
		prefix = "-";
		v = -v;
	}
	if (conv == 'p')
		prefix = "0x";
	if (conv == 'x' || conv == 'X' || conv == 'p')
		n = digits(buf + sizeof(buf), v, 16, conv == 'X');
	else
		n = digits(buf + sizeof(buf), v, 10, 0);
	emit(o, sp, prefix, buf + sizeof(buf) - n, n);
}

/* Parse flags and width at fmt; returns the character after them. */
static const char *parse_spec(const char *fmt, struct spec *sp)
{
	sp->width = sp->left = sp->zero = 0;
	for (;; fmt++) {
		if (*fmt == '-')
			sp->left = 1;
		else if (*fmt == '0')
			sp->zero = 1;
		else
			break;
	}
	while (*fmt >= '0' && *fmt <= '9')
		sp->width = sp->width * 10 + (*fmt++ - '0');
	while (*fmt == 'l')
		fmt++;
	return fmt;
}

static void convert(struct out *o, const struct spec *sp, char conv, va_list *ap)
{
	const char *s;
	char c;

	switch (conv) {
	case 'd': case 'i': case 'u': case 'x': case 'X':
		number(o, sp, conv, va_arg(*ap, unsigned int));
		break;
	case 'p':
		number(o, sp, conv, (unsigned int)va_arg(*ap, void *));
		break;
	case 's':
		s = va_arg(*ap, const char *);
		if (s == NULL)
			s = "(null)";
		emit(o, sp, "", s, (int)strlen(s));
		break;
	case 'c':
		c = (char)va_arg(*ap, int);
		emit(o, sp, "", &c, 1);
		break;
	default:	/* %% and anything unknown: the character itself */
		put(o, conv);
	}
}

int printf(const char *fmt, ...)
{
	struct out o;
	struct spec sp;
	va_list ap;

	o.len = 0;
	o.total = 0;
	va_start(ap, fmt);
	while (*fmt != '\0') {
		if (*fmt != '%') {
			put(&o, *fmt++);
			continue;
		}
		fmt = parse_spec(fmt + 1, &sp);
		if (*fmt == '\0')
			break;
		convert(&o, &sp, *fmt++, &ap);
	}
	va_end(ap);
	flush(&o);
	return o.total;
}

int puts(const char *s)
{
	return printf("%s\n", s);
}
