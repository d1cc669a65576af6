/*
 * maildir_host — the host part of Maildir file names. See maildir_host.h.
 */
#include "base/maildir_host.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char maildir_host_cache[MAILDIR_HOST_MAX + 1];
static pthread_once_t maildir_host_once = PTHREAD_ONCE_INIT;

static void maildir_host_init(void)
{
	char h[256];
	if (gethostname(h, sizeof h) < 0 || h[0] == '\0')
		snprintf(h, sizeof h, "localhost");
	h[sizeof h - 1] = '\0';
	size_t j = 0;
	for (const unsigned char *s = (const unsigned char *)h; *s; s++) {
		char esc[5];
		size_t m = 1;
		if (*s == '/' || *s == ':' || *s == ',' || *s == '\\' || *s < 0x21 || *s >= 0x7f) {
			snprintf(esc, sizeof esc, "\\%03o", *s);
			m = 4;
		} else {
			esc[0] = (char)*s;
		}
		if (j + m > MAILDIR_HOST_MAX)
			break;
		memcpy(maildir_host_cache + j, esc, m);
		j += m;
	}
	maildir_host_cache[j] = '\0';
}

void maildir_host(char *out, size_t n)
{
	pthread_once(&maildir_host_once, maildir_host_init);
	snprintf(out, n, "%s", maildir_host_cache);
}
