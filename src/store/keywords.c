/*
 * keywords — dovecot-keywords, the folder's table from Maildir letters
 * 'a'..'z' to IMAP keywords (RFC 9051 2.3.2: "$Forwarded", "Work"...),
 * shared with Dovecot. One line per defined letter: "<index> <name>",
 * index 0 for 'a'. Names are compared without regard to case, as IMAP
 * keywords are.
 *
 * The file only grows: a defined letter keeps its name (messages carry
 * the letter, not the name). It is rewritten, never edited, while the
 * uidlist lock is held, through dovecot-keywords.lock renamed over it
 * (Dovecot's way), and its mtime always grows so that readers notice.
 *
 * Names read from the file are shown to clients, so only those that
 * are IMAP atoms are taken; a letter left undefined below the highest
 * defined one gets a placeholder name in memory, never on disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fsutil.h"
#include "store/store_int.h"

#define KEYWORDS_FILE_MAX (64 * 1024)
#define KEYWORDS_NAME_MAX 200
#define KEYWORDS_STALE_SECS 120

bool keywords_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > KEYWORDS_NAME_MAX || name[0] == '\\')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c))
			return false;
	}
	return true;
}

static void keywords_retire(struct folder *f, int i)
{
	if (f->kw[i] == NULL)
		return;
	char **n = realloc(f->kw_old, (f->nkw_old + 1) * sizeof *n);
	if (n == NULL)
		return; /* the name leaks rather than dangle: views may still point at it */
	f->kw_old = n;
	f->kw_old[f->nkw_old++] = f->kw[i];
	f->kw[i] = NULL;
}

static void keywords_placeholders(struct folder *f)
{
	size_t top = 0;
	for (int i = 0; i < IMAP_KEYWORDS_MAX; i++)
		if (f->kw[i] && f->kw_real[i])
			top = (size_t)i + 1;
	for (size_t i = 0; i < top; i++) {
		if (f->kw[i])
			continue;
		char ph[32];
		snprintf(ph, sizeof ph, "$tern-keyword-%c", (char)('a' + i));
		f->kw[i] = strdup(ph);
		f->kw_real[i] = false;
	}
	f->nkw = top;
}

int keywords_refresh(struct folder *f)
{
	char path[PATH_MAX];
	if (folder_subpath(f, "dovecot-keywords", path, sizeof path) < 0)
		return -1;
	struct stat st;
	if (lstat(path, &st) < 0) {
		if (errno != ENOENT)
			return -1;
		/* Gone: the letters keep the meaning we knew; the next keyword
		 * added writes them all back. */
		f->kw_id.valid = false;
		return 0;
	}
	if (store_fileid_eq(&f->kw_id, &st))
		return 0;
	if (!S_ISREG(st.st_mode) || st.st_size > KEYWORDS_FILE_MAX) {
		store_fileid_of(&st, &f->kw_id);
		return 0; /* not ours to believe */
	}
	char *data = NULL;
	size_t len = 0;
	if (fsutil_read_file(path, KEYWORDS_FILE_MAX, &data, &len) < 0)
		return errno == EFBIG ? 0 : -1;
	char *names[IMAP_KEYWORDS_MAX] = { NULL };
	for (char *line = data; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		char *sp = strchr(line, ' ');
		if (sp) {
			*sp = '\0';
			char *end;
			long idx = strtol(line, &end, 10);
			const char *name = sp + 1;
			bool dup = false;
			for (int i = 0; i < IMAP_KEYWORDS_MAX; i++)
				if (names[i] && strcasecmp(names[i], name) == 0)
					dup = true;
			if (end != line && *end == '\0' && idx >= 0 && idx < IMAP_KEYWORDS_MAX && !dup &&
			    names[idx] == NULL && keywords_name_ok(name))
				names[idx] = (char *)name;
		}
		line = nl ? nl + 1 : NULL;
	}
	for (int i = 0; i < IMAP_KEYWORDS_MAX; i++) {
		if (names[i] == NULL) {
			if (f->kw[i] && !f->kw_real[i])
				keywords_retire(f, i); /* a placeholder: recomputed below */
			continue;
		}
		if (f->kw[i] && strcmp(f->kw[i], names[i]) == 0) {
			f->kw_real[i] = true;
			continue;
		}
		char *s = strdup(names[i]);
		if (s == NULL)
			continue;
		keywords_retire(f, i);
		f->kw[i] = s;
		f->kw_real[i] = true;
	}
	free(data);
	keywords_placeholders(f);
	store_fileid_of(&st, &f->kw_id);
	return 0;
}

int keywords_find(const struct folder *f, const char *name)
{
	for (size_t i = 0; i < f->nkw; i++)
		if (f->kw[i] && strcasecmp(f->kw[i], name) == 0)
			return (int)i;
	return -1;
}

static int keywords_write(struct folder *f)
{
	char path[PATH_MAX], lock[PATH_MAX];
	if (folder_subpath(f, "dovecot-keywords", path, sizeof path) < 0)
		return -1;
	int n = snprintf(lock, sizeof lock, "%s.lock", path);
	if (n < 0 || (size_t)n >= sizeof lock) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* We hold the uidlist lock, the only right to write this file: a
	 * keywords lock left behind is a crash's leftover. */
	unlink(lock);
	struct dotlock l;
	if (dotlock_take_replace(&l, path, KEYWORDS_STALE_SECS) < 0)
		return -1;
	struct buf b;
	buf_init(&b, KEYWORDS_FILE_MAX);
	int rc = 0;
	for (int i = 0; i < IMAP_KEYWORDS_MAX && rc == 0; i++)
		if (f->kw[i] && f->kw_real[i])
			rc = buf_printf(&b, "%d %s\n", i, f->kw[i]);
	if (rc == 0 && b.len && fsutil_write_all(l.fd, b.data, b.len) < 0)
		rc = -1;
	struct stat old, st;
	if (rc == 0 && lstat(path, &old) == 0 && fstat(l.fd, &st) == 0 &&
	    store_stat_mtime_ns(&st) <= store_stat_mtime_ns(&old)) {
		int64_t t = store_stat_mtime_ns(&old) + 1000000;
		struct timespec ts[2] = { { .tv_sec = 0, .tv_nsec = UTIME_OMIT },
		                          { .tv_sec = t / 1000000000LL, .tv_nsec = t % 1000000000LL } };
		if (futimens(l.fd, ts) < 0)
			rc = -1;
	}
	buf_free(&b);
	if (rc < 0) {
		int e = errno;
		dotlock_release(&l);
		errno = e;
		return -1;
	}
	if (dotlock_replace(&l, path) < 0)
		return -1;
	if (lstat(path, &st) == 0)
		store_fileid_of(&st, &f->kw_id);
	return 0;
}

int keywords_add(struct folder *f, const char *name)
{
	if (!keywords_name_ok(name))
		return -1;
	if (keywords_refresh(f) < 0)
		return -1;
	int i = keywords_find(f, name);
	if (i >= 0)
		return i;
	int slot = -1;
	for (int k = 0; k < IMAP_KEYWORDS_MAX; k++) {
		if (f->kw[k] == NULL || !f->kw_real[k]) {
			slot = k;
			break;
		}
	}
	if (slot < 0)
		return -2;
	char *s = strdup(name);
	if (s == NULL)
		return -1;
	keywords_retire(f, slot);
	f->kw[slot] = s;
	f->kw_real[slot] = true;
	keywords_placeholders(f);
	if (keywords_write(f) < 0) {
		/* Nobody else can know the letter: forget it. */
		int e = errno;
		keywords_retire(f, slot);
		f->kw_real[slot] = false;
		keywords_placeholders(f);
		errno = e;
		return -1;
	}
	return slot;
}

void keywords_free(struct folder *f)
{
	for (int i = 0; i < IMAP_KEYWORDS_MAX; i++) {
		free(f->kw[i]);
		f->kw[i] = NULL;
	}
	for (size_t i = 0; i < f->nkw_old; i++)
		free(f->kw_old[i]);
	free(f->kw_old);
	f->kw_old = NULL;
	f->nkw_old = 0;
}
