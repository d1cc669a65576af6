/*
 * buf — bounded growable buffer. See buf.h. Owns nothing but its data.
 */
#include "base/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max ? max : SIZE_MAX - 1;
}

void buf_free(struct buf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void buf_trim(struct buf *b, size_t keep)
{
	if (b->len == 0 && b->cap > keep) {
		free(b->data);
		b->data = NULL;
		b->cap = 0;
	}
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* Make room for n more bytes plus the NUL; -1 if that would pass max. */
static int buf_reserve(struct buf *b, size_t n)
{
	if (n > b->max || b->len > b->max - n)
		return -1;
	size_t need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	size_t ncap = b->cap ? b->cap : 64;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2) {
			ncap = need;
			break;
		}
		ncap *= 2;
	}
	char *p = realloc(b->data, ncap);
	if (p == NULL)
		return -1;
	b->data = p;
	b->cap = ncap;
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_putc(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || buf_reserve(b, (size_t)n) < 0)
		return -1;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

int buf_put_escaped(struct buf *b, const void *s, size_t n, size_t cap)
{
	const unsigned char *p = s;
	size_t m = n < cap ? n : cap;
	for (size_t i = 0; i < m; i++) {
		int r;
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			r = buf_putc(b, (char)p[i]);
		else
			r = buf_printf(b, "\\x%02x", p[i]);
		if (r < 0)
			return -1;
	}
	if (n > cap)
		return buf_puts(b, "...");
	return 0;
}
