/*
 * store_view_ops — a selected folder (RFC 9051 6.3.2 SELECT/EXAMINE and
 * the commands of 6.4): opening a view, syncing it, its messages' flags
 * and numbers, STORE, EXPUNGE, and the flush that makes this command's
 * changes durable before its tagged OK.
 *
 * STORE renames the message file (flags live in its name, mfname.c);
 * EXPUNGE unlinks it. Both change a directory: the view remembers which
 * (v->dirty) and flush fsyncs them, shared with other sessions flushing
 * the same directory (syncgroup.h). A file that moved meanwhile (another
 * program changed its flags) is found again by a forced sync before the
 * change is given up.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_int.h"

static enum imap_store_result view_ops_sync_result(int e)
{
	return e == ENOENT ? IMAP_STORE_NONEXISTENT : IMAP_STORE_ERROR;
}

enum imap_store_result store_view_open(struct store *st, const char *name, bool readonly, struct store_view **vp,
                                       struct imap_box_info *info)
{
	*vp = NULL;
	char path[PATH_MAX];
	enum imap_store_result r = store_folder_ready(st, name, path, sizeof path);
	if (r != IMAP_STORE_OK)
		return r;
	struct store_view *v = calloc(1, sizeof *v);
	if (v == NULL)
		return IMAP_STORE_ERROR;
	v->st = st;
	v->readonly = readonly;
	v->fd = -1;
	v->f = folder_get(st->root, path);
	if (v->f == NULL) {
		free(v);
		return IMAP_STORE_ERROR;
	}
	struct folder *f = v->f;
	pthread_mutex_lock(&f->mu);
	if (folder_sync(f, !readonly, false) < 0) {
		r = view_ops_sync_result(errno);
		pthread_mutex_unlock(&f->mu);
		folder_put(f);
		free(v);
		return r;
	}
	v->vnext = f->views;
	if (f->views)
		f->views->vprev = v;
	f->views = v;
	view_catch_up(v, true, true, NULL);
	view_claim_recent(v);
	view_info(v, info);
	pthread_mutex_unlock(&f->mu);
	*vp = v;
	return IMAP_STORE_OK;
}

void store_view_close(struct store_view *v)
{
	if (v == NULL)
		return;
	struct folder *f = v->f;
	pthread_mutex_lock(&f->mu);
	if (v->vprev)
		v->vprev->vnext = v->vnext;
	else
		f->views = v->vnext;
	if (v->vnext)
		v->vnext->vprev = v->vprev;
	folder_graves_gc(f);
	pthread_mutex_unlock(&f->mu);
	if (v->fd >= 0)
		close(v->fd);
	if (v->have_tree)
		mime_tree_free(&v->tree);
	free(v->priv);
	free(v->recent);
	folder_put(f);
	free(v);
}

void store_view_rest(struct store_view *v)
{
	if (v->fd >= 0) {
		close(v->fd);
		v->fd = -1;
	}
	v->fd_uid = 0;
	if (v->have_tree) {
		mime_tree_free(&v->tree);
		v->have_tree = false;
	}
}

enum imap_store_result store_view_sync(struct store_view *v, bool expunges, const struct imap_sync_sink *sink,
                                       struct imap_box_info *info)
{
	struct folder *f = v->f;
	pthread_mutex_lock(&f->mu);
	if (folder_sync(f, !v->readonly, false) < 0) {
		enum imap_store_result r = view_ops_sync_result(errno);
		/* still answer with what the view holds */
		view_info(v, info);
		pthread_mutex_unlock(&f->mu);
		return r;
	}
	view_catch_up(v, expunges, true, sink);
	view_claim_recent(v);
	folder_graves_gc(f);
	view_info(v, info);
	pthread_mutex_unlock(&f->mu);
	return IMAP_STORE_OK;
}

void store_view_msg(struct store_view *v, uint32_t seq, struct imap_msg *m)
{
	struct folder *f = v->f;
	pthread_mutex_lock(&f->mu);
	const struct fmsg *fm = view_fmsg(v, seq);
	if (fm)
		view_fill_msg(v, fm, m);
	else {
		memset(m, 0, sizeof *m);
		m->uid = view_uid(v, seq);
	}
	pthread_mutex_unlock(&f->mu);
}

bool store_view_next_changed(struct store_view *v, uint32_t seq, uint32_t upto, uint64_t since, uint32_t *found,
                             struct imap_msg *m)
{
	struct folder *f = v->f;
	bool hit = false;
	pthread_mutex_lock(&f->mu);
	if (upto > v->exists)
		upto = v->exists;
	for (uint32_t s = seq; s >= 1 && s <= upto; s++) {
		const struct fmsg *fm = view_fmsg(v, s);
		if (fm && fm->modseq > since) {
			view_fill_msg(v, fm, m);
			*found = s;
			hit = true;
			break;
		}
	}
	pthread_mutex_unlock(&f->mu);
	return hit;
}

bool store_view_uid_range(struct store_view *v, uint32_t lo, uint32_t hi, uint32_t *seq_lo, uint32_t *seq_hi)
{
	struct folder *f = v->f;
	pthread_mutex_lock(&f->mu);
	/* first seq with uid >= lo, then first with uid > hi */
	uint32_t a = 0, b = v->exists;
	while (a < b) {
		uint32_t mid = a + (b - a) / 2;
		if (view_uid(v, mid + 1) < lo)
			a = mid + 1;
		else
			b = mid;
	}
	uint32_t first = a;
	b = v->exists;
	while (a < b) {
		uint32_t mid = a + (b - a) / 2;
		if (view_uid(v, mid + 1) <= hi)
			a = mid + 1;
		else
			b = mid;
	}
	pthread_mutex_unlock(&f->mu);
	if (a <= first)
		return false;
	*seq_lo = first + 1;
	*seq_hi = a;
	return true;
}

int store_view_keyword(struct store_view *v, const char *name, bool create)
{
	struct folder *f = v->f;
	pthread_mutex_lock(&f->mu);
	keywords_refresh(f);
	int i = keywords_find(f, name);
	if (i < 0 && create && !v->readonly) {
		struct dotlock lk;
		if (folder_lock(f, &lk) == 0) {
			i = keywords_add(f, name);
			dotlock_release(&lk);
		}
	}
	view_take_keywords(v);
	pthread_mutex_unlock(&f->mu);
	return i;
}

/* Rename message i of f to carry flags/kw (into cur/). 0, -1 with errno. */
static int view_ops_rename(struct folder *f, struct fmsg *m, unsigned flags, imap_keywords kw, unsigned *dirty)
{
	char to[NAME_MAX + 1], a[PATH_MAX], b[PATH_MAX];
	if (mfname_with_flags(m->name, flags, kw, to, sizeof to) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (folder_msg_path(f, m, a, sizeof a) < 0)
		return -1;
	int k = snprintf(b, sizeof b, "%s/cur/%s", f->path, to);
	if (k < 0 || (size_t)k >= sizeof b) {
		errno = ENAMETOOLONG;
		return -1;
	}
	bool was_new = (m->state & FM_IN_NEW) != 0;
	if (strcmp(a, b) != 0 && rename(a, b) < 0)
		return -1;
	if (fmsg_rename(m, to, false) < 0)
		return -1;
	*dirty |= VIEW_DIRTY_CUR | (was_new ? VIEW_DIRTY_NEW : 0);
	return 0;
}

enum imap_store_result store_view_store(struct store_view *v, uint32_t seq, enum imap_store_mode mode,
                                        unsigned flags, imap_keywords keywords, uint64_t unchangedsince,
                                        struct imap_msg *out)
{
	struct folder *f = v->f;
	if (v->readonly)
		return IMAP_STORE_NOPERM;
	pthread_mutex_lock(&f->mu);
	enum imap_store_result r = IMAP_STORE_EXPUNGED;
	uint32_t uid = view_uid(v, seq);
	for (int attempt = 0; attempt < 2 && uid; attempt++) {
		long i = folder_find(f, uid);
		if (i < 0)
			break;
		struct fmsg *m = &f->msgs[i];
		if (unchangedsince && m->modseq > unchangedsince) {
			r = IMAP_STORE_MODIFIED; /* RFC 7162 3.1.3 */
			break;
		}
		unsigned sys = flags & IMAP_FLAGS_SYSTEM, nf = m->flags;
		imap_keywords nk = m->kw;
		switch (mode) {
		case IMAP_STORE_SET:
			nf = (nf & ~IMAP_FLAGS_SYSTEM) | sys;
			nk = keywords;
			break;
		case IMAP_STORE_ADD:
			nf |= sys;
			nk |= keywords;
			break;
		case IMAP_STORE_REMOVE:
			nf &= ~sys;
			nk &= ~keywords;
			break;
		}
		if (nf == m->flags && nk == m->kw) {
			r = IMAP_STORE_OK; /* nothing changes: neither does MODSEQ */
			view_fill_msg(v, m, out);
			break;
		}
		if (view_ops_rename(f, m, nf, nk, &v->dirty) == 0) {
			m->flags = (uint8_t)nf;
			m->kw = nk;
			m->modseq = folder_modseq_next(f);
			f->dirty = true;
			view_fill_msg(v, m, out);
			r = IMAP_STORE_OK;
			break;
		}
		if (errno != ENOENT) {
			r = IMAP_STORE_ERROR;
			break;
		}
		/* moved by someone else (its flags changed): look again */
		if (folder_sync(f, true, true) < 0) {
			r = IMAP_STORE_ERROR;
			break;
		}
	}
	pthread_mutex_unlock(&f->mu);
	return r;
}

enum imap_store_result store_view_flush(struct store_view *v)
{
	struct folder *f = v->f;
	char dir[PATH_MAX];
	int rc = 0;
	pthread_mutex_lock(&f->mu);
	unsigned dirty = v->dirty;
	v->dirty = 0;
	pthread_mutex_unlock(&f->mu);
	/* the flush itself without f->mu: other sessions go on meanwhile */
	if ((dirty & VIEW_DIRTY_CUR) && (folder_subpath(f, "cur", dir, sizeof dir) < 0 ||
	                                 syncgroup_flush(&f->sg_cur, dir) < 0))
		rc = -1;
	if ((dirty & VIEW_DIRTY_NEW) && (folder_subpath(f, "new", dir, sizeof dir) < 0 ||
	                                 syncgroup_flush(&f->sg_new, dir) < 0))
		rc = -1;
	if ((dirty & VIEW_DIRTY_DIR) && syncgroup_flush(&f->sg_dir, f->path) < 0)
		rc = -1;
	pthread_mutex_lock(&f->mu);
	if (rc < 0)
		v->dirty |= dirty; /* not known durable: try again next time */
	cache_save(f, false);
	pthread_mutex_unlock(&f->mu);
	return rc < 0 ? IMAP_STORE_ERROR : IMAP_STORE_OK;
}

enum imap_store_result store_view_expunge(struct store_view *v, const struct imap_seqset *uids,
                                          const struct imap_sync_sink *sink)
{
	struct folder *f = v->f;
	if (v->readonly)
		return IMAP_STORE_NOPERM;
	pthread_mutex_lock(&f->mu);
	/* the flags as they are now on disk, not as we last saw them */
	if (folder_sync(f, true, false) < 0) {
		enum imap_store_result r = view_ops_sync_result(errno);
		pthread_mutex_unlock(&f->mu);
		return r;
	}
	enum imap_store_result r = IMAP_STORE_OK;
	for (int attempt = 0; attempt < 2; attempt++) {
		bool moved = false;
		for (uint32_t seq = 1; seq <= v->exists; seq++) {
			long i = folder_find(f, view_uid(v, seq));
			if (i < 0)
				continue;
			struct fmsg *m = &f->msgs[i];
			if (!(m->flags & IMAP_FLAG_DELETED) || (uids && !imap_seqset_has(uids, m->uid)))
				continue;
			char p[PATH_MAX];
			if (folder_msg_path(f, m, p, sizeof p) < 0)
				continue;
			if (unlink(p) == 0) {
				m->state |= FM_MARK;
				v->dirty |= (m->state & FM_IN_NEW) ? VIEW_DIRTY_NEW : VIEW_DIRTY_CUR;
			} else if (errno == ENOENT) {
				moved = true;
			} else {
				r = IMAP_STORE_ERROR;
			}
		}
		folder_remove_marked(f);
		if (!moved)
			break;
		/* renamed meanwhile: find the new names (and whether they are
		 * still \Deleted) and go again */
		if (folder_sync(f, true, true) < 0) {
			r = IMAP_STORE_ERROR;
			break;
		}
	}
	view_catch_up(v, true, false, sink);
	folder_graves_gc(f);
	pthread_mutex_unlock(&f->mu);
	return r;
}

void store_view_dirs(const struct store_view *v, char *new_dir, char *cur_dir, size_t len)
{
	snprintf(new_dir, len, "%s/new", v->f->path);
	snprintf(cur_dir, len, "%s/cur", v->f->path);
}
