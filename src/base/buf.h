/*
 * buf — the one growable byte buffer of tern, with a hard maximum.
 *
 * Every append is checked: the length never exceeds `max`, and size
 * arithmetic never overflows. A failed append leaves the buffer unchanged
 * and returns -1, so callers can answer "too long" instead of crashing.
 * The contents are always NUL-terminated (the NUL is not counted in len),
 * which lets text users pass b->data to string functions safely.
 */
#ifndef TERN_BUF_H
#define TERN_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char  *data;  /* owned; NULL until the first append */
	size_t len;   /* bytes in use, excluding the trailing NUL */
	size_t cap;   /* bytes allocated */
	size_t max;   /* hard limit on len; 0 means SIZE_MAX */
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);                          /* len = 0, keeps memory */
/* An empty buffer holding more than keep octets gives its memory back:
 * for the buffers of idle sessions, which one large answer must not
 * leave big for the rest of the session. */
void buf_trim(struct buf *b, size_t keep);
int buf_append(struct buf *b, const void *p, size_t n); /* 0 or -1 */
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
void buf_consume(struct buf *b, size_t n);             /* drop n bytes from the front */
/* Append s, escaping control and non-ASCII bytes as \xNN, at most cap input bytes. */
int buf_put_escaped(struct buf *b, const void *s, size_t n, size_t cap);

#endif
