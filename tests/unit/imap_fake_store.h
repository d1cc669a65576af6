/*
 * imap_fake_store — an in-memory mail store behind the IMAP engine's ops
 * table, for the engine's unit tests and its fuzzer. Not a model of
 * src/store (which has its own tests): only what the engine's contract
 * in proto/imap_server.h promises, kept small enough to see at a glance
 * that it does so. Messages are parsed with the real MIME parser.
 *
 * A driver (fake_run) feeds input, completes the asynchronous steps the
 * engine asks for (login, STARTTLS) and runs exec until it is done, the
 * way mta/imapd does with a worker thread.
 */
#ifndef TERN_IMAP_FAKE_STORE_H
#define TERN_IMAP_FAKE_STORE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "proto/imap_server.h"
#include "proto/mime.h"

#define FAKE_FOLDERS 16
#define FAKE_MSGS 64

struct fake_msg {
	uint32_t uid;
	unsigned flags;
	imap_keywords kw;
	uint64_t modseq;
	char *data;
	size_t len;
	int64_t date;
	bool gone;
	struct mime_tree tree;
};

struct fake_folder {
	char name[IMAP_NAME_MAX + 1];
	bool exists, subscribed;
	uint32_t uidvalidity, uidnext;
	uint64_t hms;
	struct fake_msg m[FAKE_MSGS];
	size_t n;
};

struct fake_view {
	struct fake_folder *f;
	uint32_t uids[FAKE_MSGS];
	uint32_t n;
	bool readonly;
};

struct fake_append {
	struct fake_folder *f;
	struct buf data;
};

struct fake {
	struct imap_server s;
	struct fake_folder f[FAKE_FOLDERS];
	size_t nf;
	const char *kw[IMAP_KEYWORDS_MAX];
	size_t nkw;
	char kwbuf[IMAP_KEYWORDS_MAX][64];
	bool login_pending, tls_pending, compress_pending;
	bool tls_on;
	int idle_calls;
	char user[IMAP_USER_MAX + 1], pass[IMAP_PASS_MAX + 1];
	struct buf got;           /* everything the engine sent */
	unsigned opens, closes;
	uint64_t max_append;
	uint64_t quota_limit;
};

static struct fake_folder *fake_folder(struct fake *t, const char *name)
{
	for (size_t i = 0; i < t->nf; i++)
		if (t->f[i].exists && strcmp(t->f[i].name, name) == 0)
			return &t->f[i];
	return NULL;
}

static struct fake_folder *fake_add_folder(struct fake *t, const char *name)
{
	struct fake_folder *f = NULL;
	for (size_t i = 0; i < t->nf; i++)
		if (!t->f[i].exists && !t->f[i].subscribed) {
			f = &t->f[i];
			break;
		}
	if (f == NULL) {
		if (t->nf == FAKE_FOLDERS)
			return NULL;
		f = &t->f[t->nf++];
	}
	for (size_t k = 0; k < f->n; k++) {
		free(f->m[k].data);
		mime_tree_free(&f->m[k].tree);
	}
	memset(f, 0, sizeof *f);
	snprintf(f->name, sizeof f->name, "%s", name);
	f->exists = true;
	f->uidvalidity = 1000 + (uint32_t)(f - t->f);
	f->uidnext = 1;
	f->hms = 1;
	return f;
}

static struct fake_msg *fake_deliver(struct fake_folder *f, const char *data, size_t len, unsigned flags,
                                     int64_t date)
{
	if (f->n == FAKE_MSGS)
		return NULL;
	struct fake_msg *m = &f->m[f->n++];
	memset(m, 0, sizeof *m);
	m->uid = f->uidnext++;
	m->flags = flags;
	m->modseq = ++f->hms;
	m->data = malloc(len + 1);
	memcpy(m->data, data, len);
	m->data[len] = '\0';
	m->len = len;
	m->date = date;
	struct mime_parser *p = mime_parser_new(MIME_FULL);
	mime_parser_feed(p, data, len);
	mime_parser_finish(p, &m->tree);
	return m;
}

static struct fake_msg *fake_by_uid(struct fake_folder *f, uint32_t uid)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->m[i].uid == uid)
			return &f->m[i];
	return NULL;
}

#define FT ((struct fake *)ctx)
#define FV ((struct fake_view *)box)

static void fake_op_login(void *ctx, const char *user, const char *pass)
{
	snprintf(FT->user, sizeof FT->user, "%s", user);
	snprintf(FT->pass, sizeof FT->pass, "%s", pass);
	FT->login_pending = true;
}
static void fake_op_starttls(void *ctx)
{
	FT->tls_pending = true;
}
static void fake_op_compress(void *ctx)
{
	FT->compress_pending = true;
}
static void fake_op_idle(void *ctx, bool on)
{
	(void)on;
	FT->idle_calls++;
}

static enum imap_store_result fake_op_list(void *ctx, struct imap_folder **out, size_t *n)
{
	*out = calloc(FAKE_FOLDERS, sizeof **out);
	*n = 0;
	for (size_t i = 0; i < FT->nf; i++) {
		struct fake_folder *f = &FT->f[i];
		if (!f->exists && !f->subscribed)
			continue;
		struct imap_folder *o = &(*out)[(*n)++];
		snprintf(o->name, sizeof o->name, "%s", f->name);
		o->attrs = (f->exists ? IMAP_FOLDER_EXISTS : 0) | (f->subscribed ? IMAP_FOLDER_SUBSCRIBED : 0);
		if (strcmp(f->name, "Sent") == 0)
			o->attrs |= IMAP_FOLDER_SENT;
		if (strcmp(f->name, "Trash") == 0)
			o->attrs |= IMAP_FOLDER_TRASH;
	}
	return IMAP_STORE_OK;
}
static enum imap_store_result fake_op_create(void *ctx, const char *name)
{
	if (fake_folder(FT, name))
		return IMAP_STORE_EXISTS;
	return fake_add_folder(FT, name) ? IMAP_STORE_OK : IMAP_STORE_ERROR;
}
static enum imap_store_result fake_op_remove(void *ctx, const char *name)
{
	if (strcmp(name, "INBOX") == 0)
		return IMAP_STORE_NOPERM;
	struct fake_folder *f = fake_folder(FT, name);
	if (f == NULL)
		return IMAP_STORE_NONEXISTENT;
	f->exists = false;
	return IMAP_STORE_OK;
}
static enum imap_store_result fake_op_rename(void *ctx, const char *from, const char *to)
{
	struct fake_folder *f = fake_folder(FT, from);
	if (f == NULL)
		return IMAP_STORE_NONEXISTENT;
	if (fake_folder(FT, to))
		return IMAP_STORE_EXISTS;
	snprintf(f->name, sizeof f->name, "%s", to);
	return IMAP_STORE_OK;
}
static enum imap_store_result fake_op_subscribe(void *ctx, const char *name, bool on)
{
	struct fake_folder *f = NULL;
	for (size_t i = 0; i < FT->nf; i++)
		if (strcmp(FT->f[i].name, name) == 0 && (FT->f[i].exists || FT->f[i].subscribed))
			f = &FT->f[i];
	if (f == NULL) {
		if (!on)
			return IMAP_STORE_OK;
		f = fake_add_folder(FT, name);
		f->exists = false;
	}
	f->subscribed = on;
	return IMAP_STORE_OK;
}
static enum imap_store_result fake_op_status(void *ctx, const char *name, unsigned items, struct imap_status *st)
{
	(void)items;
	struct fake_folder *f = fake_folder(FT, name);
	if (f == NULL)
		return IMAP_STORE_NONEXISTENT;
	memset(st, 0, sizeof *st);
	for (size_t i = 0; i < f->n; i++) {
		if (f->m[i].gone)
			continue;
		st->messages++;
		st->size += f->m[i].tree.vsize;
		if (!(f->m[i].flags & IMAP_FLAG_SEEN))
			st->unseen++;
		if (f->m[i].flags & IMAP_FLAG_DELETED)
			st->deleted++;
	}
	st->uidnext = f->uidnext;
	st->uidvalidity = f->uidvalidity;
	st->highestmodseq = f->hms;
	return IMAP_STORE_OK;
}
static enum imap_store_result fake_op_quota(void *ctx, uint64_t *used, uint64_t *limit, uint64_t *messages)
{
	*used = *messages = 0;
	*limit = FT->quota_limit;
	for (size_t i = 0; i < FT->nf; i++)
		for (size_t k = 0; FT->f[i].exists && k < FT->f[i].n; k++)
			if (!FT->f[i].m[k].gone) {
				*used += FT->f[i].m[k].tree.vsize;
				++*messages;
			}
	return IMAP_STORE_OK;
}

static void fake_info(struct fake *t, struct fake_view *v, struct imap_box_info *info)
{
	info->uidvalidity = v->f->uidvalidity;
	info->uidnext = v->f->uidnext;
	info->exists = v->n;
	info->recent = 0;
	info->highestmodseq = v->f->hms;
	info->readonly = v->readonly;
	info->keywords = t->kw;
	info->nkeywords = t->nkw;
}

static enum imap_store_result fake_op_open(void *ctx, const char *name, bool readonly, void **box,
                                           struct imap_box_info *info)
{
	struct fake_folder *f = fake_folder(FT, name);
	if (f == NULL)
		return IMAP_STORE_NONEXISTENT;
	struct fake_view *v = calloc(1, sizeof *v);
	v->f = f;
	v->readonly = readonly;
	for (size_t i = 0; i < f->n; i++)
		if (!f->m[i].gone)
			v->uids[v->n++] = f->m[i].uid;
	*box = v;
	FT->opens++;
	fake_info(FT, v, info);
	return IMAP_STORE_OK;
}
static void fake_op_close(void *ctx, void *box)
{
	FT->closes++;
	free(box);
}
static enum imap_store_result fake_op_sync(void *ctx, void *box, bool expunges, const struct imap_sync_sink *sink,
                                           struct imap_box_info *info)
{
	struct fake_view *v = box;
	if (expunges) {
		for (uint32_t i = 0; i < v->n;) {
			struct fake_msg *m = fake_by_uid(v->f, v->uids[i]);
			if (m && m->gone) {
				sink->expunged(sink->engine, i + 1, v->uids[i]);
				memmove(&v->uids[i], &v->uids[i + 1], (v->n - i - 1) * sizeof v->uids[0]);
				v->n--;
			} else {
				i++;
			}
		}
	}
	uint32_t last = v->n ? v->uids[v->n - 1] : 0;
	for (size_t i = 0; i < v->f->n; i++)
		if (v->f->m[i].uid > last && !v->f->m[i].gone)
			v->uids[v->n++] = v->f->m[i].uid;
	fake_info(FT, v, info);
	return IMAP_STORE_OK;
}
static struct fake_msg *fake_seq(void *box, uint32_t seq)
{
	return fake_by_uid(FV->f, FV->uids[seq - 1]);
}
static void fake_op_msg(void *ctx, void *box, uint32_t seq, struct imap_msg *out)
{
	(void)ctx;
	struct fake_msg *m = fake_seq(box, seq);
	out->uid = m->uid;
	out->flags = m->flags;
	out->keywords = m->kw;
	out->modseq = m->modseq;
	out->size = m->tree.vsize;
	out->internaldate = m->date;
	out->tz = 60;
}
static bool fake_op_uid_range(void *ctx, void *box, uint32_t lo, uint32_t hi, uint32_t *slo, uint32_t *shi)
{
	(void)ctx;
	uint32_t a = 0, b = 0;
	for (uint32_t i = 0; i < FV->n; i++)
		if (FV->uids[i] >= lo && FV->uids[i] <= hi) {
			if (a == 0)
				a = i + 1;
			b = i + 1;
		}
	*slo = a;
	*shi = b;
	return a != 0;
}
static int fake_op_keyword(void *ctx, void *box, const char *name, bool create)
{
	(void)box;
	for (size_t i = 0; i < FT->nkw; i++)
		if (strcasecmp(FT->kw[i], name) == 0)
			return (int)i;
	if (!create)
		return -1;
	if (FT->nkw == IMAP_KEYWORDS_MAX)
		return -2;
	snprintf(FT->kwbuf[FT->nkw], sizeof FT->kwbuf[0], "%s", name);
	FT->kw[FT->nkw] = FT->kwbuf[FT->nkw];
	return (int)FT->nkw++;
}
static enum imap_store_result fake_op_store(void *ctx, void *box, uint32_t seq, enum imap_store_mode mode,
                                            unsigned flags, imap_keywords kw, uint64_t unchangedsince,
                                            struct imap_msg *out)
{
	struct fake_msg *m = fake_seq(box, seq);
	if (m->gone)
		return IMAP_STORE_EXPUNGED;
	if (unchangedsince && m->modseq > unchangedsince)
		return IMAP_STORE_MODIFIED;
	unsigned nf = mode == IMAP_STORE_SET ? flags : mode == IMAP_STORE_ADD ? m->flags | flags : m->flags & ~flags;
	imap_keywords nk = mode == IMAP_STORE_SET ? kw : mode == IMAP_STORE_ADD ? m->kw | kw : m->kw & ~kw;
	nf &= ~(unsigned)IMAP_FLAG_RECENT;
	if (nf != m->flags || nk != m->kw) {
		m->flags = nf;
		m->kw = nk;
		m->modseq = ++FV->f->hms;
	}
	fake_op_msg(ctx, box, seq, out);
	return IMAP_STORE_OK;
}
static enum imap_store_result fake_op_flush(void *ctx, void *box)
{
	(void)ctx;
	(void)box;
	return IMAP_STORE_OK;
}
static enum imap_store_result fake_op_expunge(void *ctx, void *box, const struct imap_seqset *uids,
                                              const struct imap_sync_sink *sink)
{
	struct fake_view *v = box;
	for (uint32_t i = 0; i < v->n; i++) {
		struct fake_msg *m = fake_by_uid(v->f, v->uids[i]);
		if ((m->flags & IMAP_FLAG_DELETED) && (uids == NULL || imap_seqset_has(uids, m->uid)))
			m->gone = true, v->f->hms++;
	}
	struct imap_box_info info;
	return fake_op_sync(ctx, box, true, sink, &info);
}
static enum imap_store_result fake_op_copy(void *ctx, void *box, const struct imap_seqset *seqs, const char *dest,
                                           uint32_t *uidvalidity, struct imap_seqset *src, struct imap_seqset *dst)
{
	struct fake_folder *d = fake_folder(FT, dest);
	if (d == NULL)
		return IMAP_STORE_NONEXISTENT;
	for (uint32_t seq = 1; seq <= FV->n; seq++) {
		if (!imap_seqset_has(seqs, seq))
			continue;
		struct fake_msg *m = fake_seq(box, seq);
		struct fake_msg *c = fake_deliver(d, m->data, m->len, m->flags, m->date);
		if (c == NULL)
			return IMAP_STORE_OVERQUOTA;
		c->kw = m->kw;
		imap_seqset_add(src, m->uid, m->uid);
		imap_seqset_add(dst, c->uid, c->uid);
	}
	*uidvalidity = d->uidvalidity;
	return IMAP_STORE_OK;
}
static enum imap_store_result fake_op_envelope(void *ctx, void *box, uint32_t seq, struct buf *out)
{
	(void)ctx;
	buf_append(out, fake_seq(box, seq)->tree.envelope, strlen(fake_seq(box, seq)->tree.envelope));
	return IMAP_STORE_OK;
}
static enum imap_store_result fake_op_structure(void *ctx, void *box, uint32_t seq, bool ext, struct buf *out)
{
	(void)ctx;
	const char *p = ext ? fake_seq(box, seq)->tree.bodystructure : fake_seq(box, seq)->tree.body;
	buf_append(out, p, strlen(p));
	return IMAP_STORE_OK;
}
static enum imap_store_result fake_op_section(void *ctx, void *box, uint32_t seq, const uint32_t *path, size_t depth,
                                              enum mime_section_what what, struct mime_range *r)
{
	(void)ctx;
	return mime_tree_section(&fake_seq(box, seq)->tree, path, depth, what, r) == 0 ? IMAP_STORE_OK
	                                                                               : IMAP_STORE_NONEXISTENT;
}
static long fake_op_read(void *ctx, void *box, uint32_t seq, uint64_t off, char *p, size_t len)
{
	(void)ctx;
	struct fake_msg *m = fake_seq(box, seq);
	if (off >= m->len)
		return 0;
	if (len > m->len - off)
		len = m->len - off;
	memcpy(p, m->data + off, len);
	return (long)len;
}
static int64_t fake_op_now(void *ctx)
{
	(void)ctx;
	return 1700000000;
}
static bool fake_op_sent_date(void *ctx, void *box, uint32_t seq, int64_t *t, int *tz)
{
	(void)ctx;
	struct fake_msg *m = fake_seq(box, seq);
	*t = m->date;
	*tz = 0;
	return true;
}
static enum imap_store_result fake_op_search_text(void *ctx, void *box, uint32_t seq, const struct mime_needle *nd,
                                                  size_t n, bool *matched)
{
	(void)ctx;
	struct fake_msg *m = fake_seq(box, seq);
	struct mime_search *ms = mime_search_new(nd, n);
	mime_search_feed(ms, m->data, m->len);
	mime_search_end(ms);
	for (size_t i = 0; i < n; i++)
		matched[i] = mime_search_matched(ms, i);
	mime_search_free(ms);
	return IMAP_STORE_OK;
}
static enum imap_store_result fake_op_append_begin(void *ctx, const char *name, uint64_t size,
                                                   struct imap_append **ap)
{
	struct fake_folder *f = fake_folder(FT, name);
	if (f == NULL)
		return IMAP_STORE_NONEXISTENT;
	if (FT->max_append && size > FT->max_append)
		return IMAP_STORE_TOOBIG;
	struct fake_append *a = calloc(1, sizeof *a);
	a->f = f;
	buf_init(&a->data, 0);
	*ap = (struct imap_append *)a;
	return IMAP_STORE_OK;
}
static enum imap_store_result fake_op_append_data(void *ctx, struct imap_append *ap, const char *p, size_t n)
{
	(void)ctx;
	buf_append(&((struct fake_append *)ap)->data, p, n);
	return IMAP_STORE_OK;
}
static void fake_op_append_abort(void *ctx, struct imap_append *ap)
{
	(void)ctx;
	buf_free(&((struct fake_append *)ap)->data);
	free(ap);
}
static enum imap_store_result fake_op_append_commit(void *ctx, struct imap_append *ap, unsigned flags,
                                                    const char *const *kws, size_t nkw, int64_t date, int tz,
                                                    uint32_t *uidvalidity, uint32_t *uid)
{
	(void)tz;
	struct fake_append *a = (struct fake_append *)ap;
	struct fake_msg *m = fake_deliver(a->f, a->data.data ? a->data.data : "", a->data.len, flags, date);
	if (m == NULL) {
		fake_op_append_abort(ctx, ap);
		return IMAP_STORE_OVERQUOTA;
	}
	for (size_t i = 0; i < nkw; i++) {
		int k = fake_op_keyword(ctx, NULL, kws[i], true);
		if (k >= 0)
			m->kw |= (imap_keywords)1 << k;
	}
	*uidvalidity = a->f->uidvalidity;
	*uid = m->uid;
	fake_op_append_abort(ctx, ap);
	return IMAP_STORE_OK;
}
#undef FT
#undef FV

static const struct imap_server_ops fake_ops = {
	.login = fake_op_login,
	.starttls = fake_op_starttls,
	.compress = fake_op_compress,
	.idle = fake_op_idle,
	.list = fake_op_list,
	.create = fake_op_create,
	.remove = fake_op_remove,
	.rename = fake_op_rename,
	.subscribe = fake_op_subscribe,
	.status = fake_op_status,
	.quota = fake_op_quota,
	.open = fake_op_open,
	.close = fake_op_close,
	.sync = fake_op_sync,
	.msg = fake_op_msg,
	.uid_range = fake_op_uid_range,
	.keyword = fake_op_keyword,
	.store = fake_op_store,
	.flush = fake_op_flush,
	.expunge = fake_op_expunge,
	.copy = fake_op_copy,
	.envelope = fake_op_envelope,
	.structure = fake_op_structure,
	.section = fake_op_section,
	.read = fake_op_read,
	.now = fake_op_now,
	.sent_date = fake_op_sent_date,
	.search_text = fake_op_search_text,
	.append_begin = fake_op_append_begin,
	.append_data = fake_op_append_data,
	.append_commit = fake_op_append_commit,
	.append_abort = fake_op_append_abort,
};

static void fake_init(struct fake *t, const struct imap_server_config *cfg)
{
	memset(t, 0, sizeof *t);
	buf_init(&t->got, 0);
	t->quota_limit = 1000 * 1024;
	fake_add_folder(t, "INBOX");
	fake_add_folder(t, "Sent");
	fake_add_folder(t, "Trash");
	imap_server_init(&t->s, cfg, &fake_ops, t);
}

static void fake_take_out(struct fake *t)
{
	if (t->s.out.len)
		buf_append(&t->got, t->s.out.data, t->s.out.len);
	buf_reset(&t->s.out);
}

/* Feed in (n octets); complete what the engine waits for; run exec. */
static void fake_feed(struct fake *t, const char *in, size_t n)
{
	size_t off = 0;
	for (int guard = 0; guard < 1000000; guard++) {
		size_t k = imap_server_feed(&t->s, in + off, n - off);
		off += k;
		fake_take_out(t);
		bool progress = k > 0;
		if (t->login_pending) {
			t->login_pending = false;
			bool ok = strcmp(t->pass, "secret") == 0;
			imap_server_login_done(&t->s, ok ? IMAP_LOGIN_OK : IMAP_LOGIN_BAD, ok ? t->user : NULL);
			progress = true;
		}
		if (t->tls_pending) {
			t->tls_pending = false;
			t->tls_on = true;
			off = n; /* the TLS layer drops plaintext sent after the command */
			imap_server_tls_done(&t->s);
			progress = true;
		}
		if (t->compress_pending) {
			t->compress_pending = false;
			imap_server_compress_done(&t->s, true);
			progress = true;
		}
		while (imap_server_wants_exec(&t->s)) {
			imap_server_exec(&t->s);
			fake_take_out(t);
			progress = true;
		}
		if (imap_server_is_closed(&t->s) || (!progress && (off == n || !imap_server_is_idle(&t->s))))
			break;
		if (!progress)
			break;
	}
}

static void fake_free(struct fake *t)
{
	imap_server_release(&t->s);
	imap_server_free(&t->s);
	for (size_t i = 0; i < t->nf; i++)
		for (size_t k = 0; k < t->f[i].n; k++) {
			free(t->f[i].m[k].data);
			mime_tree_free(&t->f[i].m[k].tree);
		}
	buf_free(&t->got);
}

#endif
