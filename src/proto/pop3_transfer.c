/*
 * pop3_transfer — a message as POP3 sends it (RFC 1939 3): LF line ends
 * become CR LF, a line starting with "." gets another, TOP's line count,
 * and the size the same conversion gives (LIST, and the check that what
 * was sent matches it). Pure; used by mta/pop3d while it streams a file.
 */
#include "proto/pop3_server.h"

#include <string.h>

void pop3_server_stuff_init(struct pop3_stuff *st, long top_lines)
{
	memset(st, 0, sizeof *st);
	st->top_lines = top_lines;
	if (top_lines < 0)
		st->top_lines = -1;
}

long pop3_server_stuff(struct pop3_stuff *st, const char *lf_text, size_t n, struct buf *out)
{
	size_t i = 0;
	while (i < n && !st->done) {
		/* RFC 1939 3: a line that starts with the termination octet
		 * gets one more. */
		if (!st->midline && lf_text[i] == '.' && buf_putc(out, '.') < 0)
			return -1;
		const char *lf = memchr(lf_text + i, '\n', n - i);
		size_t end = lf ? (size_t)(lf - lf_text) : n;
		if (end > i) {
			size_t len = end - i;
			if (buf_append(out, lf_text + i, len) < 0)
				return -1;
			/* A CR counts as text unless it is the line's last octet. */
			if (st->cr || len >= 2 || lf_text[i] != '\r')
				st->line_text = true;
			st->cr = lf_text[end - 1] == '\r';
			st->midline = true;
		}
		if (lf == NULL) {
			i = n;
			break;
		}
		/* A LF already preceded by CR (a file written with CR LF)
		 * must not become CR CR LF. */
		if (buf_append(out, st->cr ? "\n" : "\r\n", st->cr ? 1 : 2) < 0)
			return -1;
		i = end + 1;
		bool empty = !st->line_text;
		st->midline = st->line_text = st->cr = false;
		if (!st->in_body) {
			if (empty) {
				st->in_body = true;
				if (st->top_lines == 0)
					st->done = true;
			}
		} else if (st->top_lines > 0 && --st->top_lines == 0) {
			st->done = true;
		}
	}
	return (long)i;
}

int pop3_server_stuff_end(struct pop3_stuff *st, struct buf *out)
{
	if (st->midline && buf_puts(out, st->cr ? "\n" : "\r\n") < 0)
		return -1;
	st->midline = st->line_text = st->cr = false;
	return buf_puts(out, ".\r\n");
}

void pop3_server_measure_init(struct pop3_measure *m)
{
	memset(m, 0, sizeof *m);
}

void pop3_server_measure(struct pop3_measure *m, const char *lf_text, size_t n)
{
	if (n == 0)
		return;
	/* each bare LF gets the CR that pop3_server_stuff adds */
	m->size += crlf_wire_len(&m->crlf, lf_text, n);
	m->midline = lf_text[n - 1] != '\n';
}

uint64_t pop3_server_measure_end(struct pop3_measure *m)
{
	if (m->midline)
		m->size += m->crlf.cr ? 1 : 2;
	m->midline = m->crlf.cr = false;
	return m->size;
}
