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
	if (outlen < 3) {
		if (outlen)
			out[0] = '\0';
		return out;
	}
	if (s == NULL)
		s = "";
	size_t n = strlen(s);
	/* The common case, a plain token that fits: copied as it is. */
	if (n < outlen && log_value_plain((const unsigned char *)s, n)) {
		memcpy(out, s, n + 1);
		return out;
	}
	/* Quoted, escaped, and cut so that '"', "..." and the NUL still fit. */
	size_t o = 0;
	out[o++] = '"';
	bool cut = false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char e[5];
		size_t m;
		if (*p == '"' || *p == '\\') {
			e[0] = '\\';
			e[1] = (char)*p;
			m = 2;
		} else if (*p >= 0x20 && *p < 0x7f) {
			e[0] = (char)*p;
			m = 1;
		} else {
			snprintf(e, sizeof e, "\\x%02x", *p);
			m = 4;
		}
		if (o + m + 5 > outlen) { /* room for "...", the quote, the NUL */
			cut = true;
			break;
		}
		memcpy(out + o, e, m);
		o += m;
	}
	if (cut && o + 5 <= outlen) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

const char *log_addr(char *out, size_t outlen, const char *addr)
{
	char tmp[LOG_VALUE_CAP + 3];
	snprintf(tmp, sizeof tmp, "<%s>", addr ? addr : "");
	return log_value(out, outlen, tmp);
}
