/*
 * store_append — APPEND (RFC 9051 6.3.12, APPENDUID of RFC 4315): the
 * message is written into the folder's tmp/ as it arrives, then
 * committed the Maildir way:
 *
 *   1. the octets go to tmp/ with CR LF turned into LF, as delivery
 *      stores mail (CONTRACT.md "Where mail lands"); a CR not followed by
 *      LF is kept. The engine sends every LF as CR LF again, so BODY[]
 *      and RFC822.SIZE (counted here as the engine will send it) are
 *      exact on the wire;
 *   2. the file's mtime is set to the internal date (INTERNALDATE is the
 *      mtime, for every Maildir reader), and it is fsync'ed;
 *   3. under dovecot-uidlist.lock it is renamed into cur/ with its flags
 *      in the name (":2," and the letters, keywords by dovecot-keywords
 *      index) and a UID is appended to dovecot-uidlist (fdatasync'ed);
 *   4. cur/ is fsync'ed (shared with other sessions, syncgroup.h); only
 *      then is the APPENDUID answered.
 * A failure at any step removes what was written. The zone of the
 * internal date is not kept (a file has no zone): INTERNALDATE is shown
 * in the server's zone.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "store/store_int.h"

struct imap_append {
	struct store *st;
	char path[PATH_MAX];       /* the folder */
	char tmp[PATH_MAX];        /* the file being written */
	int fd;
	uint64_t declared, got;    /* octets announced and received */
	uint64_t stored, vsize;    /* octets in the file and on the wire */
	bool held_cr;              /* a CR received, not yet written (an LF may follow) */
	bool last_cr;              /* the last octet written is CR */
	char *out;                 /* STORE_IO_CHUNK of pending output (owned) */
	size_t nout;
};

static int append_flush(struct imap_append *ap)
{
	if (ap->nout == 0)
		return 0;
	if (fsutil_write_all(ap->fd, ap->out, ap->nout) < 0)
		return -1;
	ap->nout = 0;
	return 0;
}

static int append_put(struct imap_append *ap, char c)
{
	if (ap->nout == STORE_IO_CHUNK && append_flush(ap) < 0)
		return -1;
	ap->out[ap->nout++] = c;
	ap->stored++;
	ap->vsize += c == '\n' && !ap->last_cr ? 2 : 1;
	ap->last_cr = c == '\r';
	return 0;
}

void store_append_abort(struct imap_append *ap)
{
	if (ap == NULL)
		return;
	if (ap->fd >= 0) {
		close(ap->fd);
		unlink(ap->tmp);
	}
	free(ap->out);
	free(ap);
}

enum imap_store_result store_append_begin(struct store *st, const char *name, uint64_t size, struct imap_append **app)
{
	*app = NULL;
	struct imap_append *ap = calloc(1, sizeof *ap);
	if (ap == NULL)
		return IMAP_STORE_ERROR;
	ap->fd = -1;
	ap->st = st;
	ap->declared = size;
	enum imap_store_result r = store_folder_ready(st, name, ap->path, sizeof ap->path);
	if (r == IMAP_STORE_OK)
		r = store_quota_check(st, size);
	if (r != IMAP_STORE_OK) {
		store_append_abort(ap);
		return r;
	}
	char base[NAME_MAX + 1];
	ap->out = malloc(STORE_IO_CHUNK);
	if (ap->out == NULL || mfname_unique(base, sizeof base, 0, 0) < 0) {
		store_append_abort(ap);
		return IMAP_STORE_ERROR;
	}
	int n = snprintf(ap->tmp, sizeof ap->tmp, "%s/tmp/%s", ap->path, base);
	if (n < 0 || (size_t)n >= sizeof ap->tmp) {
		store_append_abort(ap);
		return IMAP_STORE_ERROR;
	}
	ap->fd = open(ap->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, STORE_FILE_MODE);
	/* tmp/ removed by hand: the folder is still there */
	if (ap->fd < 0 && errno == ENOENT &&
	    store_make_maildir(st->root, ap->path, strcmp(ap->path, st->root) == 0) == 0)
		ap->fd = open(ap->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, STORE_FILE_MODE);
	if (ap->fd < 0) {
		r = store_errno_result(errno);
		store_append_abort(ap);
		return r == IMAP_STORE_NONEXISTENT ? IMAP_STORE_ERROR : r;
	}
	*app = ap;
	return IMAP_STORE_OK;
}

enum imap_store_result store_append_data(struct imap_append *ap, const char *p, size_t n)
{
	if (n > ap->declared - ap->got)
		return IMAP_STORE_TOOBIG; /* more than announced: not the engine's way */
	ap->got += n;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		int rc = 0;
		if (ap->held_cr) {
			ap->held_cr = false;
			if (c != '\n')
				rc = append_put(ap, '\r');
		}
		if (rc == 0 && c == '\r')
			ap->held_cr = true;
		else if (rc == 0)
			rc = append_put(ap, c);
		if (rc < 0)
			return store_errno_result(errno);
	}
	return IMAP_STORE_OK;
}

/* Keyword names to the folder's letters (under the dotlock). */
static enum imap_store_result append_keywords(struct folder *f, const char *const *keywords, size_t n,
                                              imap_keywords *kw)
{
	*kw = 0;
	for (size_t i = 0; i < n; i++) {
		int k = keywords_add(f, keywords[i]);
		if (k == -2)
			return IMAP_STORE_LIMIT;
		if (k < 0)
			return IMAP_STORE_ERROR;
		*kw |= (imap_keywords)1 << k;
	}
	return IMAP_STORE_OK;
}

enum imap_store_result store_append_commit(struct imap_append *ap, unsigned flags, const char *const *keywords,
                                           size_t nkeywords, int64_t date, int tz, uint32_t *uidvalidity,
                                           uint32_t *uid)
{
	(void)tz; /* see the top of this file */
	enum imap_store_result r = IMAP_STORE_OK;
	if (ap->held_cr) {
		ap->held_cr = false;
		if (append_put(ap, '\r') < 0)
			r = store_errno_result(errno);
	}
	if (r == IMAP_STORE_OK && append_flush(ap) < 0)
		r = store_errno_result(errno);
	if (date <= 0)
		date = (int64_t)time(NULL);
	struct timespec ts[2] = { { .tv_sec = (time_t)date, .tv_nsec = 0 }, { .tv_sec = (time_t)date, .tv_nsec = 0 } };
	if (r == IMAP_STORE_OK && (futimens(ap->fd, ts) < 0 || fsutil_fsync(ap->fd) < 0))
		r = store_errno_result(errno);
	if (r == IMAP_STORE_OK && close(ap->fd) < 0 && errno != EINTR)
		r = store_errno_result(errno);
	else if (r == IMAP_STORE_OK)
		ap->fd = -2; /* closed, the file still in tmp/ */
	if (r != IMAP_STORE_OK) {
		store_append_abort(ap);
		return r;
	}
	char base[NAME_MAX + 1], name[NAME_MAX + 1], final[PATH_MAX + NAME_MAX + 8];
	struct folder *f = folder_get(ap->st->root, ap->path);
	if (f == NULL || mfname_unique(base, sizeof base, ap->stored, ap->vsize) < 0) {
		unlink(ap->tmp);
		folder_put(f);
		store_append_abort(ap);
		return IMAP_STORE_ERROR;
	}
	pthread_mutex_lock(&f->mu);
	struct dotlock lk;
	bool locked = folder_lock(f, &lk) == 0;
	imap_keywords kw = 0;
	if (!locked || folder_sync_locked(f, false, false) < 0)
		r = IMAP_STORE_ERROR;
	if (r == IMAP_STORE_OK)
		r = append_keywords(f, keywords, nkeywords, &kw);
	if (r == IMAP_STORE_OK && mfname_with_flags(base, flags & IMAP_FLAGS_SYSTEM, kw, name, sizeof name) < 0)
		r = IMAP_STORE_ERROR;
	int k = snprintf(final, sizeof final, "%s/cur/%s", ap->path, name);
	if (r == IMAP_STORE_OK && (k < 0 || k >= PATH_MAX))
		r = IMAP_STORE_ERROR;
	if (r == IMAP_STORE_OK && rename(ap->tmp, final) < 0)
		r = store_errno_result(errno);
	if (r == IMAP_STORE_OK) {
		const char *names[1] = { name };
		uint64_t vs[1] = { ap->vsize };
		int64_t id[1] = { date };
		uint32_t got[1] = { 0 };
		if (folder_add_own(f, names, vs, id, 1, true, got) < 0) {
			unlink(final); /* without a UID told to anyone: take it back */
			r = IMAP_STORE_ERROR;
		}
		*uid = got[0];
		*uidvalidity = f->uidvalidity;
	}
	if (locked)
		dotlock_release(&lk);
	pthread_mutex_unlock(&f->mu);
	if (r == IMAP_STORE_OK) {
		char cur[PATH_MAX];
		if (folder_subpath(f, "cur", cur, sizeof cur) < 0 || syncgroup_flush(&f->sg_cur, cur) < 0)
			r = IMAP_STORE_ERROR;
	} else {
		unlink(ap->tmp);
	}
	folder_put(f);
	store_append_abort(ap);
	return r;
}
