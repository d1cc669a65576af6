/*
 * queue_load — reading a queue file (the format is described at the top
 * of queue_file.c): its envelope records, the trailer, the tail records
 * of format 2, and the descriptor positioned at its content. Trusts
 * nothing in the file: see queue_file.c for what it refuses and why.
 */
#include "queue/queue_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"

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
