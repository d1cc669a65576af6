/*
 * log — stderr logging, one line per event. Lines are written with one
 * write(2) so that lines of concurrent threads never interleave.
 */
#include "base/log.h"

#include <stdarg.h>
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
