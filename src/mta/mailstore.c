/*
 * mailstore — see mailstore.h. Pure string work: no I/O.
 */
#include "mta/mailstore.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool mailstore_part_ok(const char *s, size_t n)
{
	if (n == 0 || n > NAME_MAX || s[0] == '.')
		return false;
	return memchr(s, '/', n) == NULL && memchr(s, '\0', n) == NULL;
}

static void mailstore_lower(char *dst, const char *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = (char)(src[i] >= 'A' && src[i] <= 'Z' ? src[i] + 32 : src[i]);
	dst[n] = '\0';
}

int mailstore_box(const char *data_dir, const char *domain, size_t dlen, const char *local, size_t llen, char *out,
                  size_t outlen)
{
	if (domain == NULL || local == NULL || !mailstore_part_ok(domain, dlen) || !mailstore_part_ok(local, llen)) {
		errno = EINVAL;
		return -1;
	}
	char d[NAME_MAX + 1], l[NAME_MAX + 1];
	mailstore_lower(d, domain, dlen);
	mailstore_lower(l, local, llen);
	int n = snprintf(out, outlen, "%s/mail/%s/%s", data_dir, d, l);
	if (n < 0 || (size_t)n >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int mailstore_box_of(const char *data_dir, const char *address, char *out, size_t outlen)
{
	const char *at = address ? strrchr(address, '@') : NULL;
	if (at == NULL) {
		errno = EINVAL;
		return -1;
	}
	return mailstore_box(data_dir, at + 1, strlen(at + 1), address, (size_t)(at - address), out, outlen);
}
