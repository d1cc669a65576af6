/*
 * store_copy — COPY (RFC 9051 6.4.7) with COPYUID (RFC 4315), and so
 * MOVE (RFC 6851, the engine's COPY then EXPUNGE).
 *
 * The source's messages are noted under its lock and the lock let go;
 * only then is the destination locked (never two folders' mu at once,
 * store_int.h). Each message gets a new file in the destination's cur/:
 * a hard link to the source file when the file system allows (Maildir
 * files never change, so sharing the inode is safe; Dovecot does the
 * same), else a copy written into tmp/, fsync'ed and renamed. Flags go
 * with it; keywords by name, since each folder numbers its own
 * (dovecot-keywords). The destination's UIDs are assigned under its
 * dotlock, and its cur/ is fsync'ed before COPYUID is answered. A
 * message that vanished from the source meanwhile is left out of both
 * UID sets.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "store/store_int.h"

struct copy_item {
	uint32_t uid;
	char *src;             /* the source file's path (owned) */
	unsigned flags;
	imap_keywords kw;      /* source letters */
	uint64_t vsize;
	int64_t idate;
	char *name;            /* the new name in the destination (owned) */
	uint32_t new_uid;
};

struct copy_job {
	struct copy_item *it;
	size_t n;
	char *kwname[IMAP_KEYWORDS_MAX]; /* the source's keyword names (owned, NULL: none) */
};

static void copy_job_free(struct copy_job *j)
{
	for (size_t i = 0; i < j->n; i++) {
		free(j->it[i].src);
		free(j->it[i].name);
	}
	free(j->it);
	for (int i = 0; i < IMAP_KEYWORDS_MAX; i++)
		free(j->kwname[i]);
}

/* Note the messages of seqs in the source (under its mu). */
static enum imap_store_result copy_collect(struct store_view *v, const struct imap_seqset *seqs, struct copy_job *j)
{
	struct folder *f = v->f;
	size_t total = 0;
	for (size_t i = 0; i < seqs->n; i++) {
		uint32_t lo = seqs->r[i].lo, hi = seqs->r[i].hi < v->exists ? seqs->r[i].hi : v->exists;
		if (lo >= 1 && lo <= hi)
			total += (size_t)(hi - lo) + 1;
	}
	j->it = calloc(total ? total : 1, sizeof *j->it);
	if (j->it == NULL)
		return IMAP_STORE_ERROR;
	for (size_t i = 0; i < f->nkw && i < IMAP_KEYWORDS_MAX; i++)
		if (f->kw[i] && f->kw_real[i] && (j->kwname[i] = strdup(f->kw[i])) == NULL)
			return IMAP_STORE_ERROR;
	for (size_t i = 0; i < seqs->n; i++) {
		uint32_t lo = seqs->r[i].lo, hi = seqs->r[i].hi < v->exists ? seqs->r[i].hi : v->exists;
		for (uint32_t s = lo; s >= 1 && s <= hi; s++) {
			long k = folder_find(f, view_uid(v, s));
			if (k < 0)
				continue; /* expunged meanwhile */
			const struct fmsg *m = &f->msgs[k];
			char p[PATH_MAX];
			if (folder_msg_path(f, m, p, sizeof p) < 0)
				continue;
			struct copy_item *c = &j->it[j->n];
			if ((c->src = strdup(p)) == NULL)
				return IMAP_STORE_ERROR;
			c->uid = m->uid;
			c->flags = m->flags;
			c->kw = m->kw;
			c->vsize = m->vsize;
			c->idate = m->idate;
			j->n++;
			if (s == UINT32_MAX)
				break;
		}
	}
	return IMAP_STORE_OK;
}

/* A real copy of src at dst (when a link cannot be made). */
static int copy_file(const char *src, const char *tmp, const char *dst, int64_t idate)
{
	int in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0)
		return -1;
	int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, STORE_FILE_MODE);
	if (out < 0) {
		int e = errno;
		close(in);
		errno = e;
		return -1;
	}
	char *b = malloc(STORE_IO_CHUNK);
	int rc = b ? 0 : -1;
	while (rc == 0) {
		ssize_t r = read(in, b, STORE_IO_CHUNK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? -1 : 0;
			break;
		}
		rc = fsutil_write_all(out, b, (size_t)r);
	}
	free(b);
	struct timespec ts[2] = { { .tv_sec = (time_t)idate }, { .tv_sec = (time_t)idate } };
	if (rc == 0 && (futimens(out, ts) < 0 || fsutil_fsync(out) < 0))
		rc = -1;
	int e = errno;
	close(in);
	if (close(out) < 0 && rc == 0 && errno != EINTR) {
		rc = -1;
		e = errno;
	}
	if (rc == 0 && rename(tmp, dst) < 0) {
		rc = -1;
		e = errno;
	}
	if (rc < 0)
		unlink(tmp);
	errno = e;
	return rc;
}

/* Place every item in g (g->mu and its dotlock held). The items placed
 * keep a name; the others get none. */
static enum imap_store_result copy_place(struct folder *g, struct copy_job *j)
{
	int map[IMAP_KEYWORDS_MAX];
	for (int i = 0; i < IMAP_KEYWORDS_MAX; i++) {
		map[i] = -1;
		bool used = false;
		for (size_t k = 0; k < j->n && !used; k++)
			used = (j->it[k].kw >> i) & 1;
		if (used && j->kwname[i])
			map[i] = keywords_add(g, j->kwname[i]); /* no room (-2): the keyword is not copied */
	}
	for (size_t k = 0; k < j->n; k++) {
		struct copy_item *c = &j->it[k];
		imap_keywords kw = 0;
		for (int i = 0; i < IMAP_KEYWORDS_MAX; i++)
			if (((c->kw >> i) & 1) && map[i] >= 0)
				kw |= (imap_keywords)1 << map[i];
		struct stat st;
		char base[NAME_MAX + 1], name[NAME_MAX + 1], dst[PATH_MAX], tmp[PATH_MAX];
		if (stat(c->src, &st) < 0)
			continue; /* gone (or renamed) since we looked: not copied */
		if (mfname_unique(base, sizeof base, (uint64_t)st.st_size, c->vsize) < 0 ||
		    mfname_with_flags(base, c->flags, kw, name, sizeof name) < 0)
			return IMAP_STORE_ERROR;
		int a = snprintf(dst, sizeof dst, "%s/cur/%s", g->path, name);
		int b = snprintf(tmp, sizeof tmp, "%s/tmp/%s", g->path, base);
		if (a < 0 || b < 0 || (size_t)a >= sizeof dst || (size_t)b >= sizeof tmp)
			return IMAP_STORE_ERROR;
		if (link(c->src, dst) < 0) {
			if (errno == ENOENT)
				continue;
			if (copy_file(c->src, tmp, dst, c->idate) < 0) {
				if (errno == ENOENT)
					continue;
				return store_errno_result(errno);
			}
		}
		if ((c->name = strdup(name)) == NULL) {
			unlink(dst);
			return IMAP_STORE_ERROR;
		}
	}
	return IMAP_STORE_OK;
}

static void copy_unplace(struct folder *g, struct copy_job *j)
{
	for (size_t k = 0; k < j->n; k++) {
		char p[PATH_MAX];
		int a = j->it[k].name ? snprintf(p, sizeof p, "%s/cur/%s", g->path, j->it[k].name) : -1;
		if (a > 0 && (size_t)a < sizeof p)
			unlink(p);
	}
}

/* Number the placed items (g->mu and its dotlock held). */
static enum imap_store_result copy_number(struct folder *g, struct copy_job *j)
{
	size_t m = 0;
	for (size_t k = 0; k < j->n; k++)
		m += j->it[k].name != NULL;
	if (m == 0)
		return IMAP_STORE_OK;
	const char **names = calloc(m, sizeof *names);
	uint64_t *vs = calloc(m, sizeof *vs);
	int64_t *id = calloc(m, sizeof *id);
	uint32_t *uids = calloc(m, sizeof *uids);
	enum imap_store_result r = IMAP_STORE_ERROR;
	if (names && vs && id && uids) {
		size_t q = 0;
		for (size_t k = 0; k < j->n; k++) {
			if (!j->it[k].name)
				continue;
			names[q] = j->it[k].name;
			vs[q] = j->it[k].vsize;
			id[q] = j->it[k].idate;
			q++;
		}
		if (folder_add_own(g, names, vs, id, m, true, uids) == 0) {
			q = 0;
			for (size_t k = 0; k < j->n; k++)
				if (j->it[k].name)
					j->it[k].new_uid = uids[q++];
			r = IMAP_STORE_OK;
		}
	}
	free(names);
	free(vs);
	free(id);
	free(uids);
	return r;
}

enum imap_store_result store_view_copy(struct store_view *v, const struct imap_seqset *seqs, const char *dest,
                                       uint32_t *uidvalidity, struct imap_seqset *src_uids,
                                       struct imap_seqset *dst_uids)
{
	char path[PATH_MAX];
	enum imap_store_result r = store_folder_ready(v->st, dest, path, sizeof path);
	if (r != IMAP_STORE_OK)
		return r;
	struct copy_job j;
	memset(&j, 0, sizeof j);
	pthread_mutex_lock(&v->f->mu);
	r = copy_collect(v, seqs, &j);
	pthread_mutex_unlock(&v->f->mu);
	uint64_t octets = 0;
	for (size_t k = 0; k < j.n; k++)
		octets += j.it[k].vsize;
	if (r == IMAP_STORE_OK && j.n)
		r = store_quota_check(v->st, octets);
	if (r != IMAP_STORE_OK || j.n == 0) {
		copy_job_free(&j);
		return r;
	}
	struct folder *g = folder_get(v->st->root, path);
	if (g == NULL) {
		copy_job_free(&j);
		return IMAP_STORE_ERROR;
	}
	pthread_mutex_lock(&g->mu);
	struct dotlock lk;
	bool locked = folder_lock(g, &lk) == 0;
	if (!locked || folder_sync_locked(g, false, false) < 0)
		r = errno == ENOENT ? IMAP_STORE_NONEXISTENT : IMAP_STORE_ERROR;
	if (r == IMAP_STORE_OK)
		r = copy_place(g, &j);
	if (r == IMAP_STORE_OK)
		r = copy_number(g, &j);
	if (r != IMAP_STORE_OK)
		copy_unplace(g, &j);
	*uidvalidity = g->uidvalidity;
	if (locked)
		dotlock_release(&lk);
	pthread_mutex_unlock(&g->mu);
	if (r == IMAP_STORE_OK) {
		char cur[PATH_MAX];
		if (folder_subpath(g, "cur", cur, sizeof cur) < 0 || syncgroup_flush(&g->sg_cur, cur) < 0)
			r = IMAP_STORE_ERROR;
	}
	for (size_t k = 0; r == IMAP_STORE_OK && k < j.n; k++) {
		if (j.it[k].new_uid == 0)
			continue;
		if (imap_seqset_add(src_uids, j.it[k].uid, j.it[k].uid) < 0 ||
		    imap_seqset_add(dst_uids, j.it[k].new_uid, j.it[k].new_uid) < 0)
			r = IMAP_STORE_ERROR;
	}
	folder_put(g);
	copy_job_free(&j);
	return r;
}
