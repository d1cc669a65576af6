/*
 * queue_state — the per-recipient state log DATA-DIR/queue/msg/ID.st:
 * appending records (queue_mark), applying them on load, and cutting a
 * torn tail at start-up. Owns the lock that keeps appends of this process
 * whole; knows nothing of the message file's format.
 *
 * Records, one a line, later lines winning for the same recipient:
 *   done IDX
 *   failed IDX [TEXT]
 *   defer IDX UNIXTIME ATTEMPTS [TEXT]
 * IDX is the recipient's position in the queue file, TEXT printable
 * ASCII, at most QUEUE_TEXT_MAX octets (the last reply, for `tern queue`).
 *
 * Crash reasoning: a record counts only with its LF. A crash in the
 * middle of an append leaves a line without one; the reader ignores it
 * (the delivery it reported is then repeated: a duplicate, never a loss)
 * and queue_recover cuts it off before anything is appended after it,
 * because "done 1" + a torn "2" glued to the next record could otherwise
 * read as a different recipient. "done"/"failed" are fdatasync'ed before
 * queue_mark returns, so a delivery is recorded before it counts.
 */
#include "queue/queue_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/log.h"

/* The queue's state_lock is held around write-or-roll-back of one
 * record. Appends to one state file may come from several workers at
 * once (two recipients of one message delivered in parallel); O_APPEND
 * keeps whole writes apart, the lock makes the roll-back of a short write
 * (ENOSPC) safe, since nobody else can have appended behind it. Never
 * held across an fsync. */

/* Error texts come from remote servers: keep printable ASCII, make line
 * breaks and tabs spaces (multi-line replies), cap the length. */
static int queue_state_put_text(struct buf *b, const char *text)
{
	size_t start = b->len;
	for (const unsigned char *s = (const unsigned char *)text; *s; s++) {
		if (b->len - start >= QUEUE_TEXT_MAX)
			break;
		unsigned char c = *s;
		if (c == '\t' || c == '\r' || c == '\n')
			c = ' ';
		else if (c < 0x20 || c >= 0x7f)
			c = '?';
		if (buf_putc(b, (char)c) < 0)
			return -1;
	}
	while (b->len > start && b->data[b->len - 1] == ' ')
		b->len--;
	b->data[b->len] = '\0';
	return 0;
}

static int queue_state_format(struct buf *b, size_t idx, enum queue_rcpt_state st, time_t next_try,
                              unsigned attempts, const char *text)
{
	int r;
	switch (st) {
	case QUEUE_RCPT_DONE:
		if (buf_printf(b, "done %zu\n", idx) < 0) {
			errno = ENOMEM;
			return -1;
		}
		return 0;
	case QUEUE_RCPT_FAILED:
		r = buf_printf(b, "failed %zu", idx);
		break;
	case QUEUE_RCPT_PENDING:
		r = buf_printf(b, "defer %zu %lld %u", idx,
		               (long long)(next_try < 0 ? 0 : next_try), attempts);
		break;
	default:
		errno = EINVAL;
		return -1;
	}
	if (r == 0 && text && *text) {
		size_t before = b->len;
		r = buf_putc(b, ' ');
		if (r == 0)
			r = queue_state_put_text(b, text);
		if (r == 0 && b->len == before + 1) /* text was only blanks */
			b->len = before;
	}
	if (r == 0)
		r = buf_putc(b, '\n');
	if (r < 0)
		errno = ENOMEM; /* the line is bounded well below its buffer's cap */
	return r;
}

/* Open msg/ID.st for appending; *created tells whether this call made it. */
static int queue_state_open(const char *path, bool *created)
{
	*created = false;
	for (;;) {
		int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (errno == EINTR)
			continue;
		if (errno != ENOENT)
			return -1;
		fd =
		    open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, QUEUE_FILE_MODE);
		if (fd >= 0) {
			*created = true;
			return fd;
		}
		if (errno != EEXIST && errno != EINTR)
			return -1;
	}
}

int queue_mark(struct queue *q, const char *id, size_t idx, enum queue_rcpt_state st,
               time_t next_try, unsigned attempts, const char *text, bool sync)
{
	char path[PATH_MAX];
	if (!queue_id_is_valid(id) || idx >= QUEUE_RCPTS_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (queue_store_path(path, q->data_dir, "msg", id, ".st") < 0)
		return -1;
	struct buf line;
	buf_init(&line, QUEUE_LINE_MAX);
	if (queue_state_format(&line, idx, st, next_try, attempts, text) < 0) {
		int saved = errno;
		buf_free(&line);
		errno = saved;
		return -1;
	}
	bool created;
	int fd = queue_state_open(path, &created);
	if (fd < 0) {
		int saved = errno;
		buf_free(&line);
		errno = saved;
		return -1;
	}

	int rc = 0;
	pthread_mutex_lock(&q->state_lock);
	struct stat sb;
	if (fstat(fd, &sb) < 0) {
		rc = -1;
	} else if (fsutil_write_all(fd, line.data, line.len) < 0) {
		/* A partial record would be glued to the next one: take it
		 * back. If even that fails, start-up repair cuts it. */
		int saved = errno;
		while (ftruncate(fd, sb.st_size) < 0 && errno == EINTR)
			;
		errno = saved;
		rc = -1;
	}
	pthread_mutex_unlock(&q->state_lock);

	if (rc == 0 && sync && fsutil_fdatasync(fd) < 0)
		rc = -1;
	/* A new state file's name must be durable too, or a crash loses the
	 * whole log with its "done" records. Always, not only with sync: a
	 * later synced append cannot know the entry was never flushed. */
	if (rc == 0 && created) {
		char dir[PATH_MAX];
		if (queue_store_path(dir, q->data_dir, "msg", NULL, NULL) < 0 ||
		    syncgroup_flush(&q->msg_sync, dir) < 0)
			rc = -1;
	}
	int saved = errno;
	close(fd);
	buf_free(&line);
	errno = saved;
	return rc;
}

/* Split off the next space-separated field of [*p, end). */
static void queue_state_field(const char **p, const char *end, const char **f, size_t *flen,
                              bool *more)
{
	const char *s = *p;
	const char *sp = memchr(s, ' ', (size_t)(end - s));
	*f = s;
	*flen = sp ? (size_t)(sp - s) : (size_t)(end - s);
	*more = sp != NULL;
	*p = sp ? sp + 1 : end;
}

/* Apply one record; -1 when it is malformed (the caller logs and skips). */
static int queue_state_line(struct queue_env *env, const char *s, size_t n)
{
	const char *p = s, *end = s + n;
	const char *key, *f;
	size_t klen, flen;
	bool more;
	uint64_t idx, t = 0, attempts = 0;
	if (memchr(s, '\0', n))
		return -1;
	queue_state_field(&p, end, &key, &klen, &more);
	if (!more)
		return -1;
	queue_state_field(&p, end, &f, &flen, &more);
	if (!queue_store_parse_u64(f, flen, SIZE_MAX, &idx) || idx >= env->nrcpts)
		return -1;

	enum queue_rcpt_state st;
	if (klen == 4 && memcmp(key, "done", 4) == 0) {
		if (more)
			return -1;
		st = QUEUE_RCPT_DONE;
	} else if (klen == 6 && memcmp(key, "failed", 6) == 0) {
		st = QUEUE_RCPT_FAILED;
	} else if (klen == 5 && memcmp(key, "defer", 5) == 0) {
		if (!more)
			return -1;
		queue_state_field(&p, end, &f, &flen, &more);
		if (!queue_store_parse_u64(f, flen, INT64_MAX, &t) || !more)
			return -1;
		queue_state_field(&p, end, &f, &flen, &more);
		if (!queue_store_parse_u64(f, flen, UINT_MAX, &attempts))
			return -1;
		st = QUEUE_RCPT_PENDING;
	} else {
		return -1;
	}

	char *text = NULL;
	if (more && st != QUEUE_RCPT_DONE) {
		size_t tl = (size_t)(end - p);
		text = malloc(tl + 1);
		if (text == NULL)
			return -1;
		memcpy(text, p, tl);
		text[tl] = '\0';
	}
	struct queue_rcpt *r = &env->rcpts[idx];
	free(r->last_error);
	r->last_error = text;
	r->state = st;
	if (st == QUEUE_RCPT_PENDING) {
		r->next_try = (time_t)t;
		r->attempts = (unsigned)attempts;
	}
	return 0;
}

int queue_state_apply(struct queue *q, struct queue_env *env)
{
	char path[PATH_MAX];
	if (queue_store_path(path, q->data_dir, "msg", env->id, ".st") < 0)
		return -1;
	int fd;
	do {
		fd = open(path, O_RDONLY | O_CLOEXEC);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	struct queue_file_lines l;
	if (queue_file_lines_init(&l, fd) < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	int rc = 0;
	unsigned long lineno = 0;
	for (;;) {
		enum queue_file_line_result lr = queue_file_lines_next(&l);
		lineno++;
		if (lr == QUEUE_FILE_LINE_EOF || lr == QUEUE_FILE_LINE_TORN)
			break; /* a torn last record never counted */
		if (lr == QUEUE_FILE_LINE_ERR) {
			rc = -1;
			break;
		}
		/* A bad complete record is skipped, not fatal: refusing the
		 * whole message would stop every other recipient. */
		if (lr == QUEUE_FILE_LINE_LONG ||
		    queue_state_line(env, l.line.data, l.line.len) < 0)
			log_msg("%s state-record=%lu status=ignored reason=malformed", env->id,
			        lineno);
	}
	int saved = errno;
	queue_file_lines_free(&l);
	close(fd);
	errno = saved;
	return rc;
}

int queue_state_repair(struct queue *q, const char *id)
{
	char path[PATH_MAX];
	if (queue_store_path(path, q->data_dir, "msg", id, ".st") < 0)
		return -1;
	int fd;
	do {
		fd = open(path, O_RDWR | O_CLOEXEC);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	int rc = -1;
	struct stat sb;
	if (fstat(fd, &sb) < 0)
		goto out;
	/* Find the last LF from the end; everything after it is torn. */
	off_t end = sb.st_size, keep = 0;
	char chunk[4096];
	while (end > 0) {
		size_t n = end < (off_t)sizeof chunk ? (size_t)end : sizeof chunk;
		ssize_t r = fsutil_pread_all(fd, chunk, n, end - (off_t)n);
		if (r < 0)
			goto out;
		if ((size_t)r != n) {
			errno = EIO;
			goto out;
		}
		char *nl = memrchr(chunk, '\n', n);
		if (nl) {
			keep = end - (off_t)n + (nl - chunk) + 1;
			break;
		}
		end -= (off_t)n;
	}
	if (keep != sb.st_size) {
		if (ftruncate(fd, keep) < 0 || fsutil_fdatasync(fd) < 0)
			goto out;
		log_msg("%s state-file=torn action=cut octets=%lld", id,
		        (long long)(sb.st_size - keep));
	}
	rc = 0;
out:;
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

/*
 * Flush the state log of a message: the records appended without `sync`
 * by an attempt become durable together (one fdatasync for a whole
 * attempt instead of one per recipient). A message without a log has
 * nothing to flush.
 */
int queue_sync(struct queue *q, const char *id)
{
	char path[PATH_MAX];
	if (!queue_id_is_valid(id)) {
		errno = EINVAL;
		return -1;
	}
	if (queue_store_path(path, q->data_dir, "msg", id, ".st") < 0)
		return -1;
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	int rc = fsutil_fdatasync(fd);
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}
