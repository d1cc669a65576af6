/*
 * queue_file — the format of one queue file, DATA-DIR/queue/msg/ID, and
 * encoding it while a message is received (tmp/ID); decoding and
 * validating it on load is queue_load.c's. Owns the writer object and the line reader. It
 * does not decide when a message is accepted (queue_store.c and the
 * caller do) and never looks at the state log (queue_state.c).
 *
 * The file, line by line (LF endings; docs/queue.md):
 *
 *   tern-queue 1              magic and format version
 *   id ID                     must match the file name
 *   arrival UNIXTIME
 *   sender ADDR               empty value for the null sender <>
 *   helo TEXT                 optional; TEXT may hold spaces
 *   client TEXT               optional
 *   auth USER                 optional
 *   smtputf8                  optional flag
 *   8bit                      optional flag
 *   rcpt ADDR ORCPT           one per recipient, in RCPT order; ADDR has
 *                             '%' and ' ' written as %25 and %20, ORCPT
 *                             runs to the end of the line
 *   content
 *   <content octets>          exactly as handed to queue_writer_write
 *   field TEXT                optional tail records, known only once the
 *   field-out TEXT            content has passed: header fields for local
 *   junk                      copies / for relayed copies, with '%' and LF
 *                             written as %25 and %0A; the Junk flag
 *   END <content-length>\n    the trailer
 *
 * Format 1 (no tail records, "tern-queue 1") is still read: files made
 * before the tail existed stay deliverable after an upgrade.
 *
 * Values come from the network, so the writer refuses CR and LF in them
 * (EINVAL) instead of letting a client forge records. The reader trusts
 * nothing: every record must be known, singular ones appear once, and
 * the trailer must be there with header + content + trailer == file size.
 * Anything else is a torn or foreign file (EINVAL).
 *
 * Crash reasoning: msg/ID only appears by rename after the file was
 * fsync'ed (queue_writer_finish, then _commit), so a torn msg/ID means
 * damage outside tern's write order; the trailer catches it anyway. A
 * file truncated exactly after an "END n\n" that the content itself
 * happens to contain at the right offset is indistinguishable from a
 * shorter message — the format has no content checksum.
 */
#include "queue/queue_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"


struct queue_writer {
	struct queue *q; /* borrowed: the queue outlives its writers */
	char id[QUEUE_ID_MAX];
	char tmp_path[PATH_MAX];
	int fd;     /* tmp/ID, -1 once closed */
	char *obuf; /* owned, QUEUE_IO_BUF octets of pending output */
	size_t olen;
	uint64_t content_len;
	bool finished; /* trailer written and file fsync'ed */
	bool tailed;   /* tail records written: no more content */
	bool recycled; /* a file from queue/free/: may hold an older, longer message */
	int err;       /* first errno seen; every later call fails with it */
};

/* ---------------------------------------------------------------- lines */

int queue_file_lines_init(struct queue_file_lines *l, int fd)
{
	l->fd = fd;
	l->pos = l->len = 0;
	l->off = 0;
	buf_init(&l->line, QUEUE_LINE_MAX);
	l->chunk = malloc(QUEUE_READ_CHUNK);
	return l->chunk ? 0 : -1;
}

void queue_file_lines_free(struct queue_file_lines *l)
{
	free(l->chunk);
	l->chunk = NULL;
	buf_free(&l->line);
}

enum queue_file_line_result queue_file_lines_next(struct queue_file_lines *l)
{
	bool too_long = false;
	bool partial = false;
	buf_reset(&l->line);
	for (;;) {
		if (l->pos == l->len) {
			ssize_t r = read(l->fd, l->chunk, QUEUE_READ_CHUNK);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				return QUEUE_FILE_LINE_ERR;
			}
			if (r == 0)
				return partial ? QUEUE_FILE_LINE_TORN : QUEUE_FILE_LINE_EOF;
			l->pos = 0;
			l->len = (size_t)r;
		}
		char *s = l->chunk + l->pos;
		size_t avail = l->len - l->pos;
		char *nl = memchr(s, '\n', avail);
		size_t take = nl ? (size_t)(nl - s) : avail;
		if (take > 0)
			partial = true;
		/* Past the cap the rest of the line is skipped, not stored:
		 * a damaged file must not make us allocate its size. */
		if (!too_long && buf_append(&l->line, s, take) < 0) {
			too_long = true;
			buf_reset(&l->line);
		}
		l->pos += take;
		l->off += take;
		if (nl) {
			l->pos++;
			l->off++;
			return too_long ? QUEUE_FILE_LINE_LONG : QUEUE_FILE_LINE_OK;
		}
	}
}

/* --------------------------------------------------------------- writer */

/* A value that goes on one record line: no CR or LF (the only way a
 * client could forge a record), bounded, and for the rcpt ADDR field no
 * need to care about spaces because queue_file_put_addr escapes them. */
static bool queue_file_value_ok(const char *s)
{
	if (s == NULL)
		return true;
	size_t n = strlen(s);
	return n <= QUEUE_VALUE_MAX && strpbrk(s, "\r\n") == NULL;
}

static bool queue_file_env_ok(const struct queue_env *env)
{
	if (!queue_id_is_valid(env->id) || env->arrival < 0)
		return false;
	if (env->nrcpts == 0 || env->nrcpts > QUEUE_RCPTS_MAX || env->rcpts == NULL)
		return false;
	if (!queue_file_value_ok(env->sender) || !queue_file_value_ok(env->helo) ||
	    !queue_file_value_ok(env->client) || !queue_file_value_ok(env->auth_user))
		return false;
	for (size_t i = 0; i < env->nrcpts; i++) {
		const struct queue_rcpt *r = &env->rcpts[i];
		if (r->addr == NULL || r->addr[0] == '\0')
			return false;
		if (!queue_file_value_ok(r->addr) || !queue_file_value_ok(r->orcpt))
			return false;
	}
	return true;
}

static int queue_file_flush(struct queue_writer *w)
{
	if (w->olen == 0)
		return 0;
	if (fsutil_write_all(w->fd, w->obuf, w->olen) < 0)
		return -1;
	w->olen = 0;
	return 0;
}

/* Buffered output: most messages are written with one or two write(2)
 * calls, and a large chunk of content skips the copy. Sticky errors: once
 * a write failed the file is useless, so every later call fails alike. */
static int queue_file_put(struct queue_writer *w, const void *p, size_t n)
{
	const char *c = p;
	if (w->err) {
		errno = w->err;
		return -1;
	}
	while (n > 0) {
		if (w->olen == 0 && n >= QUEUE_IO_BUF) {
			if (fsutil_write_all(w->fd, c, n) < 0)
				goto fail;
			return 0;
		}
		size_t room = QUEUE_IO_BUF - w->olen;
		size_t take = n < room ? n : room;
		memcpy(w->obuf + w->olen, c, take);
		w->olen += take;
		c += take;
		n -= take;
		if (w->olen == QUEUE_IO_BUF && queue_file_flush(w) < 0)
			goto fail;
	}
	return 0;
fail:
	w->err = errno;
	return -1;
}

static int queue_file_puts(struct queue_writer *w, const char *s)
{
	return queue_file_put(w, s, strlen(s));
}

/* "KEY VALUE\n", or "KEY\n" for a flag (value NULL). */
static int queue_file_put_record(struct queue_writer *w, const char *key, const char *value)
{
	if (queue_file_puts(w, key) < 0)
		return -1;
	if (value && (queue_file_put(w, " ", 1) < 0 || queue_file_puts(w, value) < 0))
		return -1;
	return queue_file_put(w, "\n", 1);
}

/* A value with the octets that would end it escaped as %XX: the ADDR
 * field of rcpt ends at the first space (a quoted local part may hold
 * one: "a b"@example.org, RFC 5321 4.1.2), a tail field at LF. '%'
 * itself is always escaped. */
static int queue_file_put_escaped(struct queue_writer *w, const char *v, char special)
{
	for (const char *s = v; *s; s++) {
		int r;
		if (*s == '%')
			r = queue_file_puts(w, "%25");
		else if (*s == special)
			r = queue_file_puts(w, special == ' ' ? "%20" : "%0A");
		else
			r = queue_file_put(w, s, 1);
		if (r < 0)
			return -1;
	}
	return 0;
}

static int queue_file_put_addr(struct queue_writer *w, const char *addr)
{
	return queue_file_put_escaped(w, addr, ' ');
}

static int queue_file_put_header(struct queue_writer *w, const struct queue_env *env)
{
	char num[32];
	snprintf(num, sizeof num, "%lld", (long long)env->arrival);
	if (queue_file_put_record(w, QUEUE_FILE_MAGIC, NULL) < 0 ||
	    queue_file_put_record(w, "id", env->id) < 0 ||
	    queue_file_put_record(w, "arrival", num) < 0 ||
	    queue_file_put_record(w, "sender", env->sender ? env->sender : "") < 0)
		return -1;
	if (env->helo && queue_file_put_record(w, "helo", env->helo) < 0)
		return -1;
	if (env->client && queue_file_put_record(w, "client", env->client) < 0)
		return -1;
	if (env->auth_user && queue_file_put_record(w, "auth", env->auth_user) < 0)
		return -1;
	if (env->smtputf8 && queue_file_put_record(w, "smtputf8", NULL) < 0)
		return -1;
	if (env->eightbit && queue_file_put_record(w, "8bit", NULL) < 0)
		return -1;
	for (size_t i = 0; i < env->nrcpts; i++) {
		const struct queue_rcpt *r = &env->rcpts[i];
		if (queue_file_puts(w, "rcpt ") < 0 || queue_file_put_addr(w, r->addr) < 0 ||
		    queue_file_put_record(w, "", r->orcpt ? r->orcpt : r->addr) < 0)
			return -1;
	}
	return queue_file_put_record(w, "content", NULL);
}

static void queue_file_writer_free(struct queue_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	free(w->obuf);
	free(w);
}

struct queue_writer *queue_writer_open(struct queue *q, const struct queue_env *env)
{
	if (!queue_file_env_ok(env)) {
		errno = EINVAL;
		return NULL;
	}
	struct queue_writer *w = calloc(1, sizeof *w);
	if (w == NULL)
		return NULL;
	w->fd = -1;
	memcpy(w->id, env->id, sizeof w->id);
	w->q = q;
	w->obuf = malloc(QUEUE_IO_BUF);
	if (w->obuf == NULL)
		goto fail;
	if (queue_store_path(w->tmp_path, q->data_dir, "tmp", env->id, NULL) < 0)
		goto fail;
	/* A recycled file from the pool is overwritten from the start and cut
	 * to size at finish; otherwise a new one. O_EXCL: an id is never
	 * reused, and if it were we would rather fail the transaction than
	 * write into someone else's file. */
	if (queue_pool_take(q, w->tmp_path) == 0) {
		do {
			w->fd = open(w->tmp_path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
		} while (w->fd < 0 && errno == EINTR);
		w->recycled = w->fd >= 0;
		if (w->fd < 0)
			unlink(w->tmp_path);
	}
	while (w->fd < 0) {
		w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, QUEUE_FILE_MODE);
		if (w->fd < 0 && errno != EINTR)
			break;
	}
	if (w->fd < 0)
		goto fail;
	if (queue_file_put_header(w, env) < 0) {
		int saved = errno;
		unlink(w->tmp_path);
		errno = saved;
		goto fail;
	}
	return w;
fail:;
	int saved = errno;
	queue_file_writer_free(w);
	errno = saved;
	return NULL;
}

int queue_writer_write(struct queue_writer *w, const void *p, size_t n)
{
	if (w->finished || w->tailed) {
		errno = EINVAL;
		return -1;
	}
	if (n > UINT64_MAX - w->content_len) {
		errno = EFBIG;
		return -1;
	}
	if (queue_file_put(w, p, n) < 0)
		return -1;
	w->content_len += n;
	return 0;
}

static bool queue_file_tail_ok(const char *v)
{
	return v == NULL || (strlen(v) <= QUEUE_TAIL_MAX && strchr(v, '\r') == NULL);
}

static int queue_file_put_tail_field(struct queue_writer *w, const char *key, const char *v)
{
	if (v == NULL || v[0] == '\0')
		return 0;
	if (queue_file_puts(w, key) < 0 || queue_file_put(w, " ", 1) < 0 || queue_file_put_escaped(w, v, '\n') < 0)
		return -1;
	return queue_file_put(w, "\n", 1);
}

int queue_writer_tail(struct queue_writer *w, const char *fields, const char *out_fields, bool junk)
{
	if (w->finished || w->tailed || !queue_file_tail_ok(fields) || !queue_file_tail_ok(out_fields)) {
		errno = EINVAL;
		return -1;
	}
	w->tailed = true;
	/* A line of its own: the content need not end in LF. */
	if (queue_file_put(w, "\n", 1) < 0 || queue_file_put_tail_field(w, "field", fields) < 0 ||
	    queue_file_put_tail_field(w, "field-out", out_fields) < 0)
		return -1;
	return junk ? queue_file_put_record(w, "junk", NULL) : 0;
}

uint64_t queue_writer_length(const struct queue_writer *w)
{
	return w->content_len;
}

const char *queue_writer_id(const struct queue_writer *w)
{
	return w->id;
}

int queue_writer_finish(struct queue_writer *w)
{
	if (w->finished) {
		errno = EINVAL;
		return -1;
	}
	char trailer[QUEUE_FILE_TRAILER_MAX + 1];
	snprintf(trailer, sizeof trailer, "END %" PRIu64 "\n", w->content_len);
	if (queue_file_puts(w, trailer) < 0)
		return -1;
	if (queue_file_flush(w) < 0)
		goto fail;
	/* A recycled file may be longer than this message: cut the old tail,
	 * or the reader would see a file that does not add up (torn). */
	if (w->recycled) {
		off_t end = lseek(w->fd, 0, SEEK_CUR);
		if (end < 0 || ftruncate(w->fd, end) < 0)
			goto fail;
	}
	/* fsync, not fdatasync: the file's size and block map are metadata
	 * that must be on disk before the rename. */
	if (fsutil_fsync(w->fd) < 0)
		goto fail;
	int fd = w->fd;
	w->fd = -1;
	if (close(fd) < 0 && errno != EINTR)
		goto fail;
	w->finished = true;
	return 0;
fail:
	w->err = errno;
	return -1;
}

int queue_writer_commit(struct queue_writer *w)
{
	char msg_path[PATH_MAX];
	if (!w->finished) {
		queue_writer_abort(w);
		errno = EINVAL;
		return -1;
	}
	if (queue_store_path(msg_path, w->q->data_dir, "msg", w->id, NULL) < 0)
		goto fail;
	/* NOREPLACE: an accepted message is never overwritten, even if an
	 * id were ever repeated. File systems without it get plain rename. */
	if (renameat2(AT_FDCWD, w->tmp_path, AT_FDCWD, msg_path, RENAME_NOREPLACE) < 0) {
		if ((errno != EINVAL && errno != ENOSYS) || rename(w->tmp_path, msg_path) < 0)
			goto fail;
	}
	queue_file_writer_free(w);
	return 0;
fail:;
	int saved = errno;
	unlink(w->tmp_path);
	queue_file_writer_free(w);
	errno = saved;
	return -1;
}

void queue_writer_abort(struct queue_writer *w)
{
	if (w == NULL)
		return;
	int saved = errno;
	if (w->fd >= 0) {
		close(w->fd);
		w->fd = -1;
	}
	unlink(w->tmp_path);
	queue_file_writer_free(w);
	errno = saved;
}
