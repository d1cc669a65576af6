/*
 * log — one line per event on stderr: a timestamp, then the session or
 * queue id, then key=value pairs. Any value that is not tern's own plain
 * token (client and peer bytes, file names, addresses, error texts) goes
 * through log_value() or log_put_value() before it reaches a line, so
 * that nobody can forge a field (CONTRACT.md "Logs"); secrets never do.
 */
#ifndef TERN_LOG_H
#define TERN_LOG_H

#include <stddef.h>
#include <stdnoreturn.h>

#include "base/buf.h"

/* Room for one value of at most LOG_VALUE_CAP input octets, quoted and
 * escaped at worst (4 output octets per input octet, quotes, "..."). */
#define LOG_VALUE_CAP 300
#define LOG_VALUE_MAX (4 * LOG_VALUE_CAP + 8)

void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The environment failed at start-up (bad config, cannot bind): exit 1. */
noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A broken invariant: a bug. Abort for a core dump. */
noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_set_quiet(int quiet);

/*
 * Append s (n octets) to b as one field value: unchanged when it is a
 * plain token; otherwise, when it holds a blank, a double quote, a
 * backslash or any octet outside printable ASCII, in double quotes, with
 * the quote and the backslash escaped by a backslash and every control
 * or non-ASCII octet written as \xNN. At most cap octets
 * of s are used, "..." marking the cut. An empty value is "". 0 or -1
 * (b full).
 */
int log_put_value(struct buf *b, const void *s, size_t n, size_t cap);
/* The same for a string, into out (outlen octets, LOG_VALUE_MAX for a
 * whole LOG_VALUE_CAP), cut to fit. Returns out. */
const char *log_value(char *out, size_t outlen, const char *s);
/* "<addr>" as a value: addresses may hold blanks and quotes
 * ("a b"@example.org), which must not end the field. */
const char *log_addr(char *out, size_t outlen, const char *addr);

#endif
