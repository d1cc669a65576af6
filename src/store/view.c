/*
 * view — one session's numbering of a folder (RFC 9051 2.3.1.2): message
 * sequence numbers 1..exists that change only when the session may be
 * told (an EXPUNGE response is allowed, 7.5.1; EXISTS at any sync), and
 * the session's \Recent messages (RFC 3501 2.3.2: recent for the first
 * read-write session that sees them arrive, kept in memory only).
 *
 * A view numbers the folder's own message array while nothing it
 * numbers has been removed: seq n is f->msgs[n - 1]. When the folder is
 * about to drop a message the view still numbers, the view first takes
 * a private list of its UIDs (view_detach) and the dropped records wait
 * in the folder's graves; the next sync that may report expunges tells
 * them, shrinks the list, and goes back to the folder's array.
 *
 * Everything here runs with f->mu held, except view_open_msg, which
 * takes it itself: the file is opened without the lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store_int.h"

uint32_t view_uid(const struct store_view *v, uint32_t seq)
{
	if (seq == 0 || seq > v->exists)
		return 0;
	if (v->priv)
		return v->priv[seq - 1];
	return seq - 1 < v->f->n ? v->f->msgs[seq - 1].uid : 0;
}

const struct fmsg *view_fmsg(const struct store_view *v, uint32_t seq)
{
	uint32_t uid = view_uid(v, seq);
	if (uid == 0)
		return NULL;
	if (v->priv == NULL)
		return &v->f->msgs[seq - 1];
	long i = folder_find(v->f, uid);
	return i >= 0 ? &v->f->msgs[i] : folder_grave(v->f, uid);
}

int view_detach(struct store_view *v)
{
	if (v->priv)
		return 0;
	size_t cap = v->exists ? v->exists : 1;
	uint32_t *p = malloc(cap * sizeof *p);
	if (p == NULL)
		return -1;
	for (uint32_t i = 0; i < v->exists; i++)
		p[i] = v->f->msgs[i].uid;
	v->priv = p;
	v->privcap = cap;
	v->gen = v->f->gen;
	return 0;
}

static size_t view_recent_pos(const struct store_view *v, uint32_t uid)
{
	size_t lo = 0, hi = v->nrecent;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v->recent[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool view_is_recent(const struct store_view *v, const struct fmsg *m)
{
	size_t i = view_recent_pos(v, m->uid);
	if (i < v->nrecent && v->recent[i] == m->uid)
		return true;
	/* not claimed yet: recent for a read-only session too (it cannot
	 * claim it, RFC 3501 2.3.2 "the first session to be notified") */
	return v->readonly && (m->state & FM_RECENT);
}

static void view_recent_drop(struct store_view *v, uint32_t uid)
{
	size_t i = view_recent_pos(v, uid);
	if (i < v->nrecent && v->recent[i] == uid) {
		memmove(v->recent + i, v->recent + i + 1, (v->nrecent - i - 1) * sizeof *v->recent);
		v->nrecent--;
	}
}

/* A read-write view takes the messages that arrived in new/ as its
 * \Recent ones; nobody else sees them so. */
void view_claim_recent(struct store_view *v)
{
	if (v->readonly)
		return;
	struct folder *f = v->f;
	for (size_t i = 0; i < f->n; i++) {
		struct fmsg *m = &f->msgs[i];
		if (!(m->state & FM_RECENT) || m->uid > v->last_uid)
			continue;
		if (v->nrecent == v->caprecent) {
			size_t nc = v->caprecent ? v->caprecent * 2 : 16;
			uint32_t *n = realloc(v->recent, nc * sizeof *n);
			if (n == NULL)
				return; /* stays recent for the next one who can */
			v->recent = n;
			v->caprecent = nc;
		}
		size_t pos = view_recent_pos(v, m->uid);
		if (pos < v->nrecent && v->recent[pos] == m->uid) {
			m->state &= (uint8_t)~FM_RECENT;
			continue;
		}
		memmove(v->recent + pos + 1, v->recent + pos, (v->nrecent - pos) * sizeof *v->recent);
		v->recent[pos] = m->uid;
		v->nrecent++;
		m->state &= (uint8_t)~FM_RECENT;
		f->dirty = true;
	}
}

void view_catch_up(struct store_view *v, bool expunges, bool grow, const struct imap_sync_sink *sink)
{
	struct folder *f = v->f;
	if (v->priv && expunges) {
		uint32_t out = 0;
		for (uint32_t i = 0; i < v->exists; i++) {
			uint32_t uid = v->priv[i];
			if (folder_find(f, uid) >= 0) {
				v->priv[out++] = uid;
				continue;
			}
			/* numbered as the client sees them now: the ones before
			 * were already taken out */
			if (sink && sink->expunged)
				sink->expunged(sink->engine, out + 1, uid);
			view_recent_drop(v, uid);
		}
		v->exists = out;
		/* Every message of the list is in the folder, and every one the
		 * folder has up to the last of them is in the list (UIDs only
		 * grow): the list is the folder's array again. */
		if (out == 0 || (out <= f->n && f->msgs[out - 1].uid == v->priv[out - 1])) {
			free(v->priv);
			v->priv = NULL;
			v->privcap = 0;
		}
	}
	if (!grow)
		return;
	if (v->priv == NULL) {
		v->exists = (uint32_t)f->n;
	} else {
		size_t lo = 0, hi = f->n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (f->msgs[mid].uid <= v->last_uid)
				lo = mid + 1;
			else
				hi = mid;
		}
		size_t want = v->exists + (f->n - lo);
		if (want > v->privcap) {
			uint32_t *n = realloc(v->priv, want * sizeof *n);
			if (n == NULL)
				return; /* they are numbered at a later sync */
			v->priv = n;
			v->privcap = want;
		}
		for (size_t i = lo; i < f->n; i++)
			v->priv[v->exists++] = f->msgs[i].uid;
	}
	uint32_t top = v->exists ? view_uid(v, v->exists) : 0;
	if (top > v->last_uid)
		v->last_uid = top;
}

static int view_local_tz(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (localtime_r(&tt, &tm) == NULL)
		return 0;
	return (int)(tm.tm_gmtoff / 60);
}

void view_fill_msg(const struct store_view *v, const struct fmsg *m, struct imap_msg *out)
{
	memset(out, 0, sizeof *out);
	out->uid = m->uid;
	out->flags = m->flags & IMAP_FLAGS_SYSTEM;
	if (view_is_recent(v, m))
		out->flags |= IMAP_FLAG_RECENT;
	imap_keywords mask = v->nkw >= IMAP_KEYWORDS_MAX ? ~(imap_keywords)0 : ((imap_keywords)1 << v->nkw) - 1;
	out->keywords = m->kw & mask;
	out->modseq = m->modseq;
	out->size = m->vsize;
	out->internaldate = m->idate;
	out->tz = view_local_tz(m->idate);
}

/* The keyword names the view shows: the folder's, at this moment. */
void view_take_keywords(struct store_view *v)
{
	struct folder *f = v->f;
	v->nkw = 0;
	for (size_t i = 0; i < f->nkw && i < IMAP_KEYWORDS_MAX; i++) {
		v->kw[i] = f->kw[i] ? f->kw[i] : "$tern-undefined";
		v->nkw = i + 1;
	}
}

void view_info(struct store_view *v, struct imap_box_info *info)
{
	struct folder *f = v->f;
	if (f->highestmodseq == 0)
		folder_modseq_next(f); /* RFC 7162 3.1.1: never 0 for a folder with modseqs */
	view_take_keywords(v);
	memset(info, 0, sizeof *info);
	info->uidvalidity = f->uidvalidity;
	info->uidnext = f->uidnext;
	info->exists = v->exists;
	info->highestmodseq = f->highestmodseq;
	info->readonly = v->readonly;
	info->keywords = v->kw;
	info->nkeywords = v->nkw;
	uint32_t recent = 0;
	if (v->readonly) {
		for (uint32_t s = 1; s <= v->exists; s++) {
			const struct fmsg *m = view_fmsg(v, s);
			if (m && view_is_recent(v, m))
				recent++;
		}
	} else {
		recent = (uint32_t)v->nrecent;
	}
	info->recent = recent;
}

int view_open_msg(struct store_view *v, uint32_t seq, enum imap_store_result *r)
{
	struct folder *f = v->f;
	char path[PATH_MAX];
	for (int attempt = 0; attempt < 2; attempt++) {
		pthread_mutex_lock(&f->mu);
		uint32_t uid = view_uid(v, seq);
		if (uid == 0) {
			pthread_mutex_unlock(&f->mu);
			*r = IMAP_STORE_NONEXISTENT;
			return -1;
		}
		if (v->fd >= 0 && v->fd_uid == uid) {
			pthread_mutex_unlock(&f->mu);
			return v->fd;
		}
		if (attempt > 0 && folder_sync(f, false, true) < 0 && errno == ENOENT) {
			pthread_mutex_unlock(&f->mu);
			*r = IMAP_STORE_EXPUNGED;
			return -1;
		}
		long i = folder_find(f, uid);
		if (i < 0 || folder_msg_path(f, &f->msgs[i], path, sizeof path) < 0) {
			pthread_mutex_unlock(&f->mu);
			*r = IMAP_STORE_EXPUNGED;
			return -1;
		}
		pthread_mutex_unlock(&f->mu);
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd >= 0) {
			store_count_msg_open();
			if (v->fd >= 0)
				close(v->fd);
			v->fd = fd;
			v->fd_uid = uid;
			return fd;
		}
		if (errno != ENOENT) {
			*r = IMAP_STORE_ERROR;
			return -1;
		}
		/* renamed by another program since we looked: find its new name */
	}
	*r = IMAP_STORE_EXPUNGED;
	return -1;
}
