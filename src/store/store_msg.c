/*
 * store_msg — what FETCH and SEARCH read of a message (RFC 9051 6.4.4,
 * 6.4.5, 7.5.2): its octets, the byte ranges of its sections, its
 * ENVELOPE / BODYSTRUCTURE / BODY strings (from tern-cache when there,
 * else parsed once by proto/mime and stored there), its Date: header,
 * and text search.
 *
 * The file is read as stored (LF line ends, or CR LF when another
 * program wrote it); the engine turns LF into CR LF on the way out, and
 * every size proto/mime gives is already that wire size. The parse of
 * the last message a view asked about is kept in the view, so that the
 * sections of one FETCH cost one parse. Nothing here holds f->mu while
 * reading or parsing a message.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "proto/imap_date.h"
#include "store/store_int.h"

#define MSG_HEADER_MAX (256 * 1024) /* octets of a header read for Date: */

/* The parse of message seq in v->tree. */
static enum imap_store_result msg_tree(struct store_view *v, uint32_t seq)
{
	enum imap_store_result r = IMAP_STORE_OK;
	int fd = view_open_msg(v, seq, &r);
	if (fd < 0)
		return r;
	if (v->have_tree && v->tree_uid == v->fd_uid)
		return IMAP_STORE_OK;
	if (v->have_tree) {
		mime_tree_free(&v->tree);
		v->have_tree = false;
	}
	struct mime_parser *p = mime_parser_new(MIME_FULL);
	char *b = malloc(STORE_IO_CHUNK);
	if (p == NULL || b == NULL) {
		mime_parser_free(p);
		free(b);
		return IMAP_STORE_ERROR;
	}
	uint64_t off = 0;
	for (;;) {
		ssize_t got = fsutil_pread_all(fd, b, STORE_IO_CHUNK, (off_t)off);
		if (got < 0 || (got > 0 && mime_parser_feed(p, b, (size_t)got) < 0)) {
			mime_parser_free(p);
			free(b);
			return IMAP_STORE_ERROR;
		}
		if (got == 0)
			break;
		off += (uint64_t)got;
	}
	free(b);
	if (mime_parser_finish(p, &v->tree) < 0)
		return IMAP_STORE_ERROR;
	v->have_tree = true;
	v->tree_uid = v->fd_uid;
	return IMAP_STORE_OK;
}

/* The cached strings of seq, computing and storing them when missing.
 * On OK, b holds them (the caller frees). */
static enum imap_store_result msg_blob(struct store_view *v, uint32_t seq, struct cache_blob *b)
{
	struct folder *f = v->f;
	pthread_mutex_lock(&f->mu);
	const struct fmsg *m = view_fmsg(v, seq);
	bool ok = m && cache_blob_read(f, m, b) && b->env && b->bs && b->body;
	pthread_mutex_unlock(&f->mu);
	if (ok)
		return IMAP_STORE_OK;
	cache_blob_free(b);
	enum imap_store_result r = msg_tree(v, seq);
	if (r != IMAP_STORE_OK)
		return r;
	b->env = strdup(v->tree.envelope ? v->tree.envelope : "");
	b->bs = strdup(v->tree.bodystructure ? v->tree.bodystructure : "");
	b->body = strdup(v->tree.body ? v->tree.body : "");
	if (b->env == NULL || b->bs == NULL || b->body == NULL) {
		cache_blob_free(b);
		return IMAP_STORE_ERROR;
	}
	pthread_mutex_lock(&f->mu);
	long i = folder_find(f, v->tree_uid);
	if (i >= 0)
		cache_blob_write(f, &f->msgs[i], b);
	pthread_mutex_unlock(&f->mu);
	return IMAP_STORE_OK;
}

enum imap_store_result store_view_envelope(struct store_view *v, uint32_t seq, struct buf *out)
{
	struct cache_blob b = { 0 };
	enum imap_store_result r = msg_blob(v, seq, &b);
	if (r == IMAP_STORE_OK && buf_puts(out, b.env) < 0)
		r = IMAP_STORE_ERROR;
	cache_blob_free(&b);
	return r;
}

enum imap_store_result store_view_structure(struct store_view *v, uint32_t seq, bool extended, struct buf *out)
{
	struct cache_blob b = { 0 };
	enum imap_store_result r = msg_blob(v, seq, &b);
	if (r == IMAP_STORE_OK && buf_puts(out, extended ? b.bs : b.body) < 0)
		r = IMAP_STORE_ERROR;
	cache_blob_free(&b);
	return r;
}

enum imap_store_result store_view_section(struct store_view *v, uint32_t seq, const uint32_t *path, size_t depth,
                                          enum mime_section_what what, struct mime_range *rg)
{
	enum imap_store_result r = msg_tree(v, seq);
	if (r != IMAP_STORE_OK)
		return r;
	if (mime_tree_section(&v->tree, path, depth, what, rg) < 0)
		return IMAP_STORE_NONEXISTENT;
	return IMAP_STORE_OK;
}

long store_view_read(struct store_view *v, uint32_t seq, uint64_t off, char *p, size_t len)
{
	enum imap_store_result r;
	int fd = view_open_msg(v, seq, &r);
	if (fd < 0 || off > (uint64_t)INT64_MAX)
		return -1;
	if (len > (size_t)LONG_MAX)
		len = (size_t)LONG_MAX;
	ssize_t got = fsutil_pread_all(fd, p, len, (off_t)off);
	return got < 0 ? -1 : (long)got;
}

/* The Date: header of the open file, parsed. */
static bool msg_date_of(int fd, int64_t *t, int *tz)
{
	char *h = malloc(MSG_HEADER_MAX);
	if (h == NULL)
		return false;
	ssize_t got = fsutil_pread_all(fd, h, MSG_HEADER_MAX, 0);
	bool ok = false;
	if (got > 0) {
		size_t n = (size_t)got;
		/* the header ends at the first empty line */
		for (size_t i = 0; i + 1 < n; i++) {
			if (h[i] == '\n' && (h[i + 1] == '\n' || (h[i + 1] == '\r' && i + 2 < n && h[i + 2] == '\n'))) {
				n = i + 1;
				break;
			}
		}
		static const char *const names[] = { "Date" };
		struct buf f;
		buf_init(&f, MIME_FIELD_MAX * 2);
		if (mime_header_filter(h, n, names, 1, false, &f) == 0 && f.len > 5) {
			/* "Date:" value, its folds and line ends (and maybe the
			 * blank line): the line ends are white space to the parser.
			 * A second Date: field is ignored (RFC 5322 3.6 allows one). */
			char *s = strchr(f.data, ':');
			char *end = f.data + f.len;
			char *next = s ? strstr(s, "\r\nDate:") : NULL;
			if (next == NULL && s)
				next = strcasestr(s, "\r\ndate:");
			if (next)
				end = next;
			if (s && s < end) {
				s++;
				for (char *q = s; q < end; q++)
					if (*q == '\r' || *q == '\n')
						*q = ' ';
				ok = mail_date_parse(s, (size_t)(end - s), t, tz);
			}
		}
		buf_free(&f);
	}
	free(h);
	return ok;
}

bool store_view_sent_date(struct store_view *v, uint32_t seq, int64_t *t, int *tz_min)
{
	struct folder *f = v->f;
	pthread_mutex_lock(&f->mu);
	const struct fmsg *m = view_fmsg(v, seq);
	uint8_t state = m ? m->state : FM_NOSENT;
	if (state & FM_SENT) {
		*t = m->sent;
		*tz_min = m->sent_tz;
	}
	pthread_mutex_unlock(&f->mu);
	if (state & (FM_SENT | FM_NOSENT))
		return (state & FM_SENT) != 0;
	enum imap_store_result r;
	int fd = view_open_msg(v, seq, &r);
	if (fd < 0)
		return false;
	uint32_t uid = v->fd_uid;
	int tz = 0;
	bool ok = msg_date_of(fd, t, &tz);
	if (ok && (tz < -24 * 60 || tz > 24 * 60))
		ok = false;
	*tz_min = tz;
	pthread_mutex_lock(&f->mu);
	long i = folder_find(f, uid);
	if (i >= 0) {
		struct fmsg *fm = &f->msgs[i];
		fm->state |= ok ? FM_SENT : FM_NOSENT;
		if (ok) {
			fm->sent = *t;
			fm->sent_tz = (int16_t)tz;
		}
		f->dirty = true;
	}
	pthread_mutex_unlock(&f->mu);
	return ok;
}

enum imap_store_result store_view_search_text(struct store_view *v, uint32_t seq, const struct mime_needle *needles,
                                              size_t n, bool *matched)
{
	enum imap_store_result r = IMAP_STORE_OK;
	int fd = view_open_msg(v, seq, &r);
	if (fd < 0)
		return r;
	struct mime_search *s = mime_search_new(needles, n);
	char *b = malloc(STORE_IO_CHUNK);
	if (s == NULL || b == NULL) {
		mime_search_free(s);
		free(b);
		return IMAP_STORE_ERROR;
	}
	uint64_t off = 0;
	while (!mime_search_settled(s)) {
		ssize_t got = fsutil_pread_all(fd, b, STORE_IO_CHUNK, (off_t)off);
		if (got < 0 || (got > 0 && mime_search_feed(s, b, (size_t)got) < 0)) {
			r = IMAP_STORE_ERROR;
			break;
		}
		if (got == 0)
			break;
		off += (uint64_t)got;
	}
	free(b);
	if (r == IMAP_STORE_OK) {
		mime_search_end(s);
		for (size_t i = 0; i < n; i++)
			matched[i] = mime_search_matched(s, i);
	}
	mime_search_free(s);
	return r;
}
