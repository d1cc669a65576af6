/*
 * log — one line per event on stderr: a timestamp, then the session or
 * queue id, then key=value pairs. Client bytes must go through
 * buf_put_escaped() before they reach a log line; secrets never do.
 */
#ifndef TERN_LOG_H
#define TERN_LOG_H

#include <stdnoreturn.h>

void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The environment failed at start-up (bad config, cannot bind): exit 1. */
noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A broken invariant: a bug. Abort for a core dump. */
noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_set_quiet(int quiet);

#endif
