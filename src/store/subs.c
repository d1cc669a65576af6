/*
 * subs — the subscriptions of RFC 9051 6.3.7/6.3.8 in ROOT/subscriptions,
 * in Dovecot's format so that either server sees the other's:
 *
 *   version 2 (what Dovecot writes, and we):  "V" TAB "2" LF LF, then one
 *       name per line with TAB as the hierarchy separator ("A" TAB "B"
 *       for A.B); Dovecot escapes control octets with \001, which names
 *       in the store's form never hold (such a line is skipped);
 *   version 1 (older Dovecot, Courier): one name per line, "." between
 *       the levels.
 *
 * A subscription may name a folder that does not exist (RFC 9051 6.3.7).
 * The file is replaced whole through subscriptions.lock (lock.c, the
 * replace style), so readers never lock and never see half a file.
 * Bounded: SUBS_FILE_MAX octets, SUBS_MAX names; lines that are not
 * valid names are dropped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/fsutil.h"
#include "store/store_int.h"

#define SUBS_FILE_MAX (1024 * 1024)
#define SUBS_MAX 10000
#define SUBS_STALE_SECS 30

void subs_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int subs_path(const char *root, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/subscriptions", root);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int subs_read(const char *root, char ***names, size_t *n)
{
	*names = NULL;
	*n = 0;
	char path[PATH_MAX];
	if (subs_path(root, path, sizeof path) < 0)
		return -1;
	char *data = NULL;
	size_t len = 0;
	if (fsutil_read_file(path, SUBS_FILE_MAX, &data, &len) < 0)
		return errno == ENOENT ? 0 : -1;
	char **out = NULL;
	size_t cnt = 0, cap = 0;
	char *p = data;
	bool v2 = strncmp(p, "V\t2\n", 4) == 0;
	if (v2) {
		/* the header runs to the first empty line */
		char *blank = strstr(p, "\n\n");
		p = blank ? blank + 2 : p + len;
	}
	int rc = 0;
	while (*p && rc == 0) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		if (v2)
			for (char *q = p; *q; q++)
				if (*q == '\t')
					*q = '.';
		bool dup = false;
		for (size_t i = 0; i < cnt && !dup; i++)
			dup = strcmp(out[i], p) == 0;
		if (!dup && store_name_ok(p) && cnt < SUBS_MAX) {
			if (cnt == cap) {
				size_t nc = cap ? cap * 2 : 16;
				char **no = realloc(out, nc * sizeof *no);
				if (no == NULL) {
					rc = -1;
					break;
				}
				out = no;
				cap = nc;
			}
			if ((out[cnt] = strdup(p)) == NULL)
				rc = -1;
			else
				cnt++;
		}
		p = nl ? nl + 1 : p + strlen(p);
	}
	free(data);
	if (rc < 0) {
		subs_free(out, cnt);
		errno = ENOMEM;
		return -1;
	}
	*names = out;
	*n = cnt;
	return 0;
}

enum imap_store_result subs_set(const char *root, const char *name, bool on)
{
	if (!store_name_ok(name))
		return IMAP_STORE_BADNAME;
	char path[PATH_MAX];
	if (subs_path(root, path, sizeof path) < 0)
		return IMAP_STORE_ERROR;
	struct dotlock l;
	if (dotlock_take_replace(&l, path, SUBS_STALE_SECS) < 0)
		return store_errno_result(errno);
	/* read under the lock: nobody replaces the file meanwhile */
	char **names;
	size_t n;
	if (subs_read(root, &names, &n) < 0) {
		dotlock_release(&l);
		return IMAP_STORE_ERROR;
	}
	bool have = false;
	for (size_t i = 0; i < n; i++)
		have |= strcmp(names[i], name) == 0;
	if (have == on) {
		subs_free(names, n);
		dotlock_release(&l);
		return IMAP_STORE_OK;
	}
	if (on && n >= SUBS_MAX) {
		subs_free(names, n);
		dotlock_release(&l);
		return IMAP_STORE_LIMIT;
	}
	struct buf b;
	buf_init(&b, SUBS_FILE_MAX);
	int rc = buf_puts(&b, "V\t2\n\n");
	for (size_t i = 0; i <= n && rc == 0; i++) {
		const char *s = i < n ? names[i] : on ? name : NULL;
		if (s == NULL || (i < n && !on && strcmp(s, name) == 0))
			continue;
		for (const char *q = s; *q && rc == 0; q++)
			rc = buf_putc(&b, *q == '.' ? '\t' : *q);
		if (rc == 0)
			rc = buf_putc(&b, '\n');
	}
	subs_free(names, n);
	if (rc == 0 && fsutil_write_all(l.fd, b.data, b.len) < 0)
		rc = -1;
	buf_free(&b);
	if (rc < 0) {
		int e = errno;
		dotlock_release(&l);
		return store_errno_result(e);
	}
	if (dotlock_replace(&l, path) < 0)
		return store_errno_result(errno);
	return IMAP_STORE_OK;
}
