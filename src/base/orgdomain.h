/*
 * orgdomain — the organizational domain of a name (RFC 7489 3.2): the
 * registrable domain under the Public Suffix List. The list is the
 * system's (Debian's publicsuffix package, kept current with the rest of
 * the system) read through libpsl; libpsl's built-in copy only when the
 * system has none. Thread-safe; the list is loaded once.
 */
#ifndef TERN_ORGDOMAIN_H
#define TERN_ORGDOMAIN_H

#include <stdbool.h>
#include <stddef.h>

/* domain's organizational domain in lower case into out; false when
 * domain is a public suffix itself, empty, or too long. */
bool orgdomain(const char *domain, char *out, size_t outlen);

#endif
