/*
 * queue_file — the format of one queue file, DATA-DIR/queue/msg/ID:
 * encoding it while a message is received (tmp/ID), and decoding and
 * validating it on load. Owns the writer object and the line reader. It
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

#define QUEUE_FILE_MAGIC "tern-queue 2"
#define QUEUE_FILE_MAGIC_V1 "tern-queue 1"
/* "END " + 20 digits of a uint64_t + LF */
#define QUEUE_FILE_TRAILER_MAX (4 + 20 + 1)

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

/* ---------------------------------------------------------------- reader */

static char *queue_file_strndup(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* Undo queue_file_put_escaped with the same special octet: only %25
 * and that octet's escape exist. */
static char *queue_file_unescape(const char *s, size_t n, char special)
{
	char *d = malloc(n + 1);
	if (d == NULL)
		return NULL;
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			d[j++] = s[i];
			continue;
		}
		const char *esc = s + i + 1;
		if (i + 2 < n && (memcmp(esc, "25", 2) == 0 || memcmp(esc, special == ' ' ? "20" : "0A", 2) == 0)) {
			d[j++] = esc[0] == '2' && esc[1] == '5' ? '%' : special;
			i += 2;
			continue;
		}
		free(d);
		errno = EINVAL;
		return NULL;
	}
	d[j] = '\0';
	return d;
}

static int queue_file_add_rcpt(struct queue_env *env, size_t *cap, const char *v, size_t n)
{
	const char *sp = memchr(v, ' ', n);
	if (sp == NULL || sp == v) {
		errno = EINVAL;
		return -1;
	}
	if (env->nrcpts == *cap) {
		if (*cap >= QUEUE_RCPTS_MAX) {
			errno = EINVAL;
			return -1;
		}
		size_t ncap = *cap ? *cap * 2 : 4;
		if (ncap > QUEUE_RCPTS_MAX)
			ncap = QUEUE_RCPTS_MAX;
		struct queue_rcpt *nr = realloc(env->rcpts, ncap * sizeof *nr);
		if (nr == NULL)
			return -1;
		env->rcpts = nr;
		*cap = ncap;
	}
	struct queue_rcpt *r = &env->rcpts[env->nrcpts];
	memset(r, 0, sizeof *r);
	r->addr = queue_file_unescape(v, (size_t)(sp - v), ' ');
	if (r->addr == NULL)
		return -1;
	if (r->addr[0] == '\0') {
		free(r->addr);
		errno = EINVAL;
		return -1;
	}
	r->orcpt = queue_file_strndup(sp + 1, n - (size_t)(sp - v) - 1);
	if (r->orcpt == NULL) {
		free(r->addr);
		return -1;
	}
	env->nrcpts++;
	return 0;
}

/* Which singular records were seen, to refuse repeats. */
enum {
	QUEUE_SEEN_ID = 1 << 0,
	QUEUE_SEEN_ARRIVAL = 1 << 1,
	QUEUE_SEEN_SENDER = 1 << 2,
	QUEUE_SEEN_HELO = 1 << 3,
	QUEUE_SEEN_CLIENT = 1 << 4,
	QUEUE_SEEN_AUTH = 1 << 5,
	QUEUE_SEEN_UTF8 = 1 << 6,
	QUEUE_SEEN_8BIT = 1 << 7,
};

/* One header line into env. 1 for "content" (end of header), 0 for
 * another record, -1 with errno (EINVAL: not a valid record). */
static int queue_file_record(struct queue_env *env, const char *id, const char *line, size_t len,
                             unsigned *seen, size_t *cap)
{
	/* NUL or CR in a record: the writer never puts them there. */
	if (memchr(line, '\0', len) || memchr(line, '\r', len))
		goto invalid;
	const char *sp = memchr(line, ' ', len);
	size_t klen = sp ? (size_t)(sp - line) : len;
	const char *v = sp ? sp + 1 : NULL;
	size_t vlen = sp ? len - klen - 1 : 0;
	unsigned bit = 0;
	char **target = NULL;

#define QUEUE_KEY_IS(k) (klen == sizeof(k) - 1 && memcmp(line, k, klen) == 0)
	if (QUEUE_KEY_IS("content")) {
		if (v)
			goto invalid;
		return 1;
	} else if (QUEUE_KEY_IS("rcpt")) {
		if (v == NULL)
			goto invalid;
		return queue_file_add_rcpt(env, cap, v, vlen);
	} else if (QUEUE_KEY_IS("id")) {
		if (v == NULL || vlen != strlen(id) || memcmp(v, id, vlen) != 0)
			goto invalid;
		bit = QUEUE_SEEN_ID;
	} else if (QUEUE_KEY_IS("arrival")) {
		uint64_t t;
		if (v == NULL || !queue_store_parse_u64(v, vlen, INT64_MAX, &t))
			goto invalid;
		env->arrival = (time_t)t;
		bit = QUEUE_SEEN_ARRIVAL;
	} else if (QUEUE_KEY_IS("sender")) {
		bit = QUEUE_SEEN_SENDER;
		target = &env->sender;
	} else if (QUEUE_KEY_IS("helo")) {
		bit = QUEUE_SEEN_HELO;
		target = &env->helo;
	} else if (QUEUE_KEY_IS("client")) {
		bit = QUEUE_SEEN_CLIENT;
		target = &env->client;
	} else if (QUEUE_KEY_IS("auth")) {
		bit = QUEUE_SEEN_AUTH;
		target = &env->auth_user;
	} else if (QUEUE_KEY_IS("smtputf8")) {
		if (v)
			goto invalid;
		env->smtputf8 = true;
		bit = QUEUE_SEEN_UTF8;
	} else if (QUEUE_KEY_IS("8bit")) {
		if (v)
			goto invalid;
		env->eightbit = true;
		bit = QUEUE_SEEN_8BIT;
	} else {
		goto invalid;
	}
#undef QUEUE_KEY_IS

	if (*seen & bit)
		goto invalid;
	*seen |= bit;
	if (target) {
		/* "sender" alone is the null sender; the others need the
		 * space even for an empty value, as the writer puts it. */
		if (v == NULL && bit != QUEUE_SEEN_SENDER)
			goto invalid;
		*target = queue_file_strndup(v ? v : "", vlen);
		if (*target == NULL)
			return -1;
	}
	return 0;
invalid:
	errno = EINVAL;
	return -1;
}

int queue_file_read_trailer_tail(int fd, uint64_t header_len, uint64_t size, uint64_t *content_len,
                                 uint64_t *tail_len)
{
	char t[QUEUE_FILE_TRAILER_MAX];
	if (header_len > size)
		goto invalid;
	uint64_t rest = size - header_len;
	size_t tl = rest < sizeof t ? (size_t)rest : sizeof t;
	if (tl < 6) /* "END 0\n" */
		goto invalid;
	ssize_t r = fsutil_pread_all(fd, t, tl, (off_t)(size - tl));
	if (r < 0)
		return -1;
	if ((size_t)r != tl || t[tl - 1] != '\n')
		goto invalid;
	size_t d = tl - 1;
	while (d > 0 && t[d - 1] >= '0' && t[d - 1] <= '9')
		d--;
	size_t ndig = tl - 1 - d;
	if (ndig == 0 || d < 4 || memcmp(t + d - 4, "END ", 4) != 0)
		goto invalid;
	uint64_t n;
	if (!queue_store_parse_u64(t + d, ndig, UINT64_MAX, &n))
		goto invalid;
	uint64_t trailer_len = 4 + ndig + 1;
	if (trailer_len > rest || n > rest - trailer_len)
		goto invalid;
	*content_len = n;
	*tail_len = rest - trailer_len - n;
	return 0;
invalid:
	errno = EINVAL;
	return -1;
}

int queue_file_read_trailer(int fd, uint64_t header_len, uint64_t size, uint64_t *content_len)
{
	uint64_t tail;
	if (queue_file_read_trailer_tail(fd, header_len, size, content_len, &tail) < 0)
		return -1;
	if (tail != 0) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* The tail records (format 2) at off, len octets: a line end that closes
 * the content, then field, field-out and junk, each at most once. */
static int queue_file_parse_tail(int fd, off_t off, uint64_t len, struct queue_env *env)
{
	if (len == 0)
		return 0;
	/* Two fields, each tripled at worst by escaping, keys and ends. */
	if (len > 6 * (uint64_t)QUEUE_TAIL_MAX + 64)
		goto invalid;
	char *t = malloc((size_t)len);
	if (t == NULL)
		return -1;
	ssize_t r = fsutil_pread_all(fd, t, (size_t)len, off);
	if (r < 0 || (uint64_t)r != len || t[0] != '\n' || t[len - 1] != '\n' || memchr(t, '\0', (size_t)len) ||
	    memchr(t, '\r', (size_t)len)) { /* the writer never puts NUL or CR there */
		free(t);
		if (r >= 0)
			goto invalid;
		return -1;
	}
	size_t pos = 1;
	bool bad = false;
	while (pos < len && !bad) {
		char *line = t + pos;
		char *nl = memchr(line, '\n', (size_t)len - pos);
		size_t n = (size_t)(nl - line);
		pos += n + 1;
		char **target = NULL;
		if (n == 4 && memcmp(line, "junk", 4) == 0 && !env->junk) {
			env->junk = true;
			continue;
		}
		if (n > 6 && memcmp(line, "field ", 6) == 0 && env->fields == NULL)
			target = &env->fields;
		else if (n > 10 && memcmp(line, "field-out ", 10) == 0 && env->out_fields == NULL)
			target = &env->out_fields;
		if (target == NULL) {
			bad = true;
			break;
		}
		size_t k = target == &env->fields ? 6 : 10;
		if ((*target = queue_file_unescape(line + k, n - k, '\n')) == NULL)
			bad = true;
	}
	free(t);
	if (bad)
		goto invalid;
	return 0;
invalid:
	errno = EINVAL;
	return -1;
}

static int queue_file_parse(int fd, const char *id, struct queue_env *env)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return -1;
	}
	struct queue_file_lines l;
	if (queue_file_lines_init(&l, fd) < 0)
		return -1;
	unsigned seen = 0;
	size_t cap = 0;
	int rc = -1;
	bool first = true, v2 = false;
	for (;;) {
		enum queue_file_line_result lr = queue_file_lines_next(&l);
		if (lr == QUEUE_FILE_LINE_ERR)
			goto out;
		if (lr != QUEUE_FILE_LINE_OK) {
			errno = EINVAL; /* torn header, or a line no writer makes */
			goto out;
		}
		if (first) {
			const char *m = l.line.data ? l.line.data : "";
			if (strlen(m) != l.line.len) {
				errno = EINVAL;
				goto out;
			}
			if (strcmp(m, QUEUE_FILE_MAGIC) == 0)
				v2 = true;
			else if (strcmp(m, QUEUE_FILE_MAGIC_V1) != 0) {
				errno = EINVAL;
				goto out;
			}
			first = false;
			continue;
		}
		int r = queue_file_record(env, id, l.line.data ? l.line.data : "", l.line.len,
		                          &seen, &cap);
		if (r < 0)
			goto out;
		if (r == 1)
			break;
	}
	unsigned need = QUEUE_SEEN_ID | QUEUE_SEEN_ARRIVAL | QUEUE_SEEN_SENDER;
	if ((seen & need) != need || env->nrcpts == 0) {
		errno = EINVAL;
		goto out;
	}
	uint64_t tail_len;
	if (queue_file_read_trailer_tail(fd, l.off, (uint64_t)st.st_size, &env->content_len, &tail_len) < 0)
		goto out;
	if (tail_len && !v2) {
		errno = EINVAL;
		goto out;
	}
	env->content_off = (off_t)l.off;
	if (queue_file_parse_tail(fd, (off_t)(l.off + env->content_len), tail_len, env) < 0)
		goto out;
	rc = 0;
out:;
	int saved = errno;
	queue_file_lines_free(&l);
	errno = saved;
	return rc;
}

int queue_load(struct queue *q, const char *id, struct queue_env *env)
{
	memset(env, 0, sizeof *env);
	char path[PATH_MAX];
	if (!queue_id_is_valid(id)) {
		errno = EINVAL;
		return -1;
	}
	if (queue_store_path(path, q->data_dir, "msg", id, NULL) < 0)
		return -1;
	int fd;
	do {
		fd = open(path, O_RDONLY | O_CLOEXEC);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -1;
	memcpy(env->id, id, strlen(id) + 1);
	int r = queue_file_parse(fd, id, env);
	int saved = errno;
	close(fd);
	if (r == 0)
		r = queue_state_apply(q, env);
	if (r < 0) {
		saved = errno;
		queue_env_free(env);
		errno = saved;
	}
	return r;
}

bool queue_exists(struct queue *q, const char *id)
{
	char path[PATH_MAX];
	struct stat st;
	return queue_id_is_valid(id) && queue_store_path(path, q->data_dir, "msg", id, NULL) == 0 &&
	       lstat(path, &st) == 0;
}

int queue_open_content(struct queue *q, const struct queue_env *env)
{
	return queue_open_content_at(q, env->id, env->content_off);
}

int queue_open_content_at(struct queue *q, const char *id, off_t content_off)
{
	char path[PATH_MAX];
	if (!queue_id_is_valid(id)) {
		errno = EINVAL;
		return -1;
	}
	if (queue_store_path(path, q->data_dir, "msg", id, NULL) < 0)
		return -1;
	int fd;
	do {
		fd = open(path, O_RDONLY | O_CLOEXEC);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -1;
	if (lseek(fd, content_off, SEEK_SET) < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}
