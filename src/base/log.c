/*
 * log — stderr logging, one line per event. Lines are written with one
 * write(2) so that lines of concurrent threads never interleave.
 */
#include "base/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_quiet;

void log_set_quiet(int quiet)
{
	log_quiet = quiet;
}

static void log_vline(const char *prefix, const char *fmt, va_list ap)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
	int m = snprintf(line + n, sizeof line - n, ".%03ldZ tern: %s", ts.tv_nsec / 1000000, prefix);
	if (m > 0)
		n += (size_t)m;
	if (n < sizeof line) {
		m = vsnprintf(line + n, sizeof line - n, fmt, ap);
		if (m > 0)
			n += (size_t)m;
	}
	if (n > sizeof line - 2)
		n = sizeof line - 2;
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, n);
	(void)w;
}

void log_msg(const char *fmt, ...)
{
	if (log_quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	log_vline("", fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vline("fatal: ", fmt, ap);
	va_end(ap);
	exit(1);
}

void panic(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vline("panic: ", fmt, ap);
	va_end(ap);
	abort();
}

/* Does the value need the quoted form? */
static bool log_value_plain(const unsigned char *p, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] <= 0x20 || p[i] >= 0x7f || p[i] == '"' || p[i] == '\\')
			return false;
	return true;
}

int log_put_value(struct buf *b, const void *s, size_t n, size_t cap)
{
	const unsigned char *p = s;
	size_t m = n < cap ? n : cap;
	if (log_value_plain(p, m) && m == n)
		return buf_append(b, p, m);
	if (buf_putc(b, '"') < 0)
		return -1;
	for (size_t i = 0; i < m; i++) {
		int r;
		if (p[i] == '"' || p[i] == '\\') {
			char e[2] = {'\\', (char)p[i]};
			r = buf_append(b, e, 2);
		} else if (p[i] >= 0x20 && p[i] < 0x7f) {
			r = buf_putc(b, (char)p[i]);
		} else {
			r = buf_printf(b, "\\x%02x", p[i]);
		}
		if (r < 0)
			return -1;
	}
	if (n > cap && buf_puts(b, "...") < 0)
		return -1;
	return buf_putc(b, '"');
}

const char *log_value(char *out, size_t outlen, const char *s)
{
	if (outlen == 0)
		return out;
	struct buf b;
	buf_init(&b, LOG_VALUE_MAX);
	size_t n = s ? strlen(s) : 0;
	/* Fit the cap to the room: every input octet may take four. */
	size_t cap = outlen > 12 ? (outlen - 12) / 4 : 0;
	if (cap > LOG_VALUE_CAP)
		cap = LOG_VALUE_CAP;
	if (log_put_value(&b, s ? s : "", n, cap) == 0 && b.len < outlen)
		memcpy(out, b.data, b.len + 1);
	else
		snprintf(out, outlen, "\"\"");
	buf_free(&b);
	return out;
}

const char *log_addr(char *out, size_t outlen, const char *addr)
{
	char tmp[LOG_VALUE_CAP + 3];
	snprintf(tmp, sizeof tmp, "<%s>", addr ? addr : "");
	return log_value(out, outlen, tmp);
}
