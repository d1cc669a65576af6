/*
 * queue_drop — the drop area of `tern sendmail`: the writer (run by the
 * invoking user), the strict reader (run by the server), listing and
 * quarantine. The format and the permission model are in queue_drop.h.
 *
 * What a hostile local user can put in drop/, and what the reader does:
 *   a symbolic link (to /etc/shadow)    O_NOFOLLOW: refused, quarantined
 *   a hard link to a file of another    st_nlink must be 1: refused
 *   a FIFO, a directory, a socket       not S_ISREG (O_NONBLOCK: no hang)
 *   a file others may write             refused: its content is not its
 *                                       owner's word
 *   a forged uid in the text            no such field: the uid is st_uid
 *   a huge file, huge lines, a million  bounded: content by the server's
 *   recipients                          max-message-size, lines by
 *                                       QUEUE_LINE_MAX, recipients by
 *                                       QUEUE_DROP_RCPTS_MAX
 *   a torn or lying trailer             refused, as for queue files
 *   a name like "../x" or a dot name    readdir names hold no '/'; only
 *                                       queue ids are read
 *   changing the file while it is read  only its own message suffers;
 *                                       the unlink checks dev/inode
 * Refused files are moved to queue/corrupt/ for a human, with a log line.
 *
 * Crash reasoning: sendmail answers 0 only after the file, its rename and
 * the directory are flushed. The server unlinks a drop file only after
 * its queue copy is durable; a crash in between picks it up again (a
 * duplicate, never a loss).
 */
#include "queue/queue_drop.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/log.h"
#include "queue/queue_internal.h"

#define QUEUE_DROP_MAGIC     "tern-drop 1"
#define QUEUE_DROP_DIR_MODE  03733
#define QUEUE_DROP_FILE_MODE 0640
#define QUEUE_DROP_TMP_AGE   (7 * 24 * 3600) /* a sendmail may read a slow pipe for long */
/* The envelope's worst case: every recipient at its longest. */
#define QUEUE_DROP_ENV_MAX \
	((uint64_t)(QUEUE_DROP_RCPTS_MAX + 4) * (QUEUE_DROP_ADDR_MAX + 16))

struct queue_drop_writer {
	char tmp_path[PATH_MAX];
	char data_dir[PATH_MAX];
	int fd;
	uint64_t content_len;
	struct buf out; /* pending output, flushed at QUEUE_IO_BUF */
};

/* ------------------------------------------------------------ shared */

/* An address on an envelope line: bounded, no controls (the only way to
 * forge a record), no DEL. Octets >= 0x80 pass (RFC 6531 addresses). */
static bool queue_drop_addr_ok(const char *s, size_t n, bool may_be_empty)
{
	if (n == 0)
		return may_be_empty;
	if (n > QUEUE_DROP_ADDR_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

static int queue_drop_path(char *out, const char *data_dir, const char *name)
{
	return queue_store_path(out, data_dir, "drop", name, NULL);
}

/* ------------------------------------------------------------ writer */

int queue_drop_ensure_dir(const char *data_dir)
{
	char path[PATH_MAX];
	struct stat st;
	if (queue_drop_path(path, data_dir, NULL) < 0)
		return -1;
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return 0;
		errno = ENOTDIR;
		return -1;
	}
	if (errno != ENOENT)
		return -1;
	/* Made by whoever runs sendmail first (root, or the server's user):
	 * private until the server's queue_drop_setup opens it up. */
	return fsutil_mkdirs(path, QUEUE_DIR_MODE);
}

static int queue_drop_flush(struct queue_drop_writer *w)
{
	if (w->out.len == 0)
		return 0;
	if (fsutil_write_all(w->fd, w->out.data, w->out.len) < 0)
		return -1;
	buf_reset(&w->out);
	return 0;
}

static int queue_drop_put(struct queue_drop_writer *w, const void *p, size_t n)
{
	if (w->out.len + n > QUEUE_IO_BUF && queue_drop_flush(w) < 0)
		return -1;
	if (n >= QUEUE_IO_BUF)
		return fsutil_write_all(w->fd, p, n);
	if (buf_append(&w->out, p, n) < 0) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

static void queue_drop_writer_free(struct queue_drop_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	buf_free(&w->out);
	free(w);
}

struct queue_drop_writer *queue_drop_writer_open(const char *data_dir, const char *sender,
                                                 char *const *rcpts, size_t nrcpts)
{
	if (sender == NULL || !queue_drop_addr_ok(sender, strlen(sender), true) || nrcpts == 0 ||
	    nrcpts > QUEUE_DROP_RCPTS_MAX) {
		errno = EINVAL;
		return NULL;
	}
	for (size_t i = 0; i < nrcpts; i++) {
		if (!queue_drop_addr_ok(rcpts[i], strlen(rcpts[i]), false)) {
			errno = EINVAL;
			return NULL;
		}
	}
	struct queue_drop_writer *w = calloc(1, sizeof *w);
	if (w == NULL)
		return NULL;
	w->fd = -1;
	buf_init(&w->out, QUEUE_IO_BUF);
	snprintf(w->data_dir, sizeof w->data_dir, "%s", data_dir);
	char id[QUEUE_ID_MAX], name[QUEUE_ID_MAX + 1];
	for (int tries = 0; w->fd < 0 && tries < 16; tries++) {
		queue_new_id(id);
		snprintf(name, sizeof name, ".%s", id);
		if (queue_drop_path(w->tmp_path, data_dir, name) < 0)
			goto fail;
		w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		             QUEUE_DROP_FILE_MODE);
		if (w->fd < 0 && errno != EEXIST && errno != EINTR)
			goto fail;
	}
	if (w->fd < 0)
		goto fail;
	/* Whatever the umask: the server reads it through the group. */
	if (fchmod(w->fd, QUEUE_DROP_FILE_MODE) < 0)
		goto fail;
	struct buf h;
	buf_init(&h, QUEUE_DROP_ENV_MAX);
	int r = buf_printf(&h, "%s\nsender %s\n", QUEUE_DROP_MAGIC, sender);
	for (size_t i = 0; r == 0 && i < nrcpts; i++)
		r = buf_printf(&h, "rcpt %s\n", rcpts[i]);
	if (r == 0)
		r = buf_puts(&h, "content\n");
	if (r < 0)
		errno = ENOMEM;
	else
		r = fsutil_write_all(w->fd, h.data, h.len);
	buf_free(&h);
	if (r < 0)
		goto fail;
	return w;
fail:;
	int e = errno;
	if (w->fd >= 0)
		unlink(w->tmp_path);
	queue_drop_writer_free(w);
	errno = e;
	return NULL;
}

int queue_drop_writer_write(struct queue_drop_writer *w, const void *p, size_t n)
{
	if (queue_drop_put(w, p, n) < 0)
		return -1;
	w->content_len += n;
	return 0;
}

uint64_t queue_drop_writer_length(const struct queue_drop_writer *w)
{
	return w->content_len;
}

const char *queue_drop_writer_tmp_path(const struct queue_drop_writer *w)
{
	return w->tmp_path;
}

/*
 * Flush the rename. The usual way is an fsync of the directory, but a
 * user other than the server's may not open drop/ (it has no read
 * permission, on purpose); then syncfs() on the file, which commits the
 * file system's metadata, the rename included.
 */
static int queue_drop_sync_rename(int fd, const char *final)
{
	if (fsutil_fsync_parent(final) == 0)
		return 0;
	if (errno != EACCES && errno != EPERM)
		return -1;
	int r;
	do {
		r = syncfs(fd);
	} while (r < 0 && errno == EINTR);
	return r;
}

int queue_drop_writer_commit(struct queue_drop_writer *w, char name[QUEUE_ID_MAX])
{
	char trailer[32], final[PATH_MAX];
	snprintf(trailer, sizeof trailer, "END %" PRIu64 "\n", w->content_len);
	if (queue_drop_put(w, trailer, strlen(trailer)) < 0 || queue_drop_flush(w) < 0 ||
	    fsutil_fsync(w->fd) < 0)
		goto fail;
	/* The final name is a fresh id; NOREPLACE so that a collision (or
	 * another user's file by that name) is never overwritten. */
	for (int tries = 0;; tries++) {
		queue_new_id(name);
		if (queue_drop_path(final, w->data_dir, name) < 0)
			goto fail;
		if (renameat2(AT_FDCWD, w->tmp_path, AT_FDCWD, final, RENAME_NOREPLACE) == 0)
			break;
		if (errno == EINVAL || errno == ENOSYS) {
			if (rename(w->tmp_path, final) == 0)
				break;
			goto fail;
		}
		if (errno != EEXIST || tries >= 16)
			goto fail;
	}
	if (queue_drop_sync_rename(w->fd, final) < 0) {
		/* Renamed but not known to be durable: say it failed (75), so
		 * that the caller retries rather than trusts it. */
		int e = errno;
		unlink(final);
		queue_drop_writer_free(w);
		errno = e;
		return -1;
	}
	queue_drop_writer_free(w); /* closes the fd: nothing left to lose after the fsync */
	return 0;
fail:;
	int e = errno;
	unlink(w->tmp_path);
	queue_drop_writer_free(w);
	errno = e;
	return -1;
}

void queue_drop_writer_abort(struct queue_drop_writer *w)
{
	if (w == NULL)
		return;
	int e = errno;
	unlink(w->tmp_path);
	queue_drop_writer_free(w);
	errno = e;
}

/* ------------------------------------------------------------ server */

/* Add `bits` to a directory's mode (or set it exactly when `exact`);
 * a directory we do not own keeps its mode (EPERM is reported). */
static int queue_drop_chmod(const char *path, mode_t mode, bool exact)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	mode_t want = exact ? mode : ((st.st_mode & 07777) | mode);
	if ((st.st_mode & 07777) == want)
		return 0;
	return chmod(path, want);
}

int queue_drop_setup(const char *data_dir)
{
	char path[PATH_MAX];
	if (queue_drop_path(path, data_dir, NULL) < 0 || fsutil_mkdirs(path, QUEUE_DIR_MODE) < 0)
		return -1;
	if (queue_drop_chmod(data_dir, 0011, false) < 0)
		return -1;
	if (queue_store_path(path, data_dir, NULL, NULL, NULL) < 0 || queue_drop_chmod(path, 0011, false) < 0)
		return -1;
	if (queue_drop_path(path, data_dir, NULL) < 0 || queue_drop_chmod(path, QUEUE_DROP_DIR_MODE, true) < 0)
		return -1;
	return 0;
}

static int queue_drop_names_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int queue_drop_quarantine(const char *data_dir, const char *name, char *moved_to, size_t moved_len)
{
	char from[PATH_MAX], to[PATH_MAX], id[QUEUE_ID_MAX];
	if (queue_store_path(to, data_dir, "corrupt", NULL, NULL) < 0 || fsutil_mkdirs(to, QUEUE_DIR_MODE) < 0)
		return -1;
	if (queue_drop_path(from, data_dir, name) < 0)
		return -1;
	struct stat st;
	queue_corrupt_make_room(data_dir, lstat(from, &st) == 0 ? (uint64_t)st.st_size : 0);
	for (int tries = 0;; tries++) {
		queue_new_id(id);
		snprintf(moved_to, moved_len, "drop-%s", id);
		if (queue_store_path(to, data_dir, "corrupt", moved_to, NULL) < 0)
			return -1;
		if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
			break;
		if (errno == EINVAL || errno == ENOSYS) {
			if (rename(from, to) == 0)
				break;
			return -1;
		}
		if (errno != EEXIST || tries >= 16)
			return -1;
	}
	if (queue_drop_sync(data_dir) < 0)
		return -1;
	return fsutil_fsync_parent(to);
}

/* ".ID": a temporary file of a writer. */
static bool queue_drop_is_tmp_name(const char *nm)
{
	return nm[0] == '.' && queue_id_is_valid(nm + 1);
}

/* What to do with a name that is not a complete drop file. */
static void queue_drop_list_other(const char *data_dir, int dfd, const char *nm, time_t now)
{
	struct stat st;
	char v[LOG_VALUE_MAX];
	if (fstatat(dfd, nm, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (queue_drop_is_tmp_name(nm)) {
		if (now - st.st_mtime > QUEUE_DROP_TMP_AGE && unlinkat(dfd, nm, 0) == 0)
			log_msg("drop-file=%s status=stale-temporary action=removed", log_value(v, sizeof v, nm));
		return;
	}
	char moved[QUEUE_ID_MAX + 8];
	if (queue_drop_quarantine(data_dir, nm, moved, sizeof moved) == 0)
		log_msg("drop-file=%s uid=%u status=invalid-name action=moved-to-queue/corrupt/%s", log_value(v, sizeof v, nm),
		        (unsigned)st.st_uid, moved);
}

int queue_drop_list(const char *data_dir, size_t max, char ***names, size_t *n)
{
	char path[PATH_MAX];
	*names = NULL;
	*n = 0;
	if (queue_drop_path(path, data_dir, NULL) < 0)
		return -1;
	DIR *d = opendir(path);
	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	char **v = NULL;
	size_t nv = 0, cap = 0;
	time_t now = time(NULL);
	int rc = 0;
	for (;;) {
		errno = 0;
		struct dirent *e = readdir(d);
		if (e == NULL) {
			if (errno)
				rc = -1;
			break;
		}
		const char *nm = e->d_name;
		if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0)
			continue;
		if (!queue_id_is_valid(nm)) {
			queue_drop_list_other(data_dir, dirfd(d), nm, now);
			continue;
		}
		/* Keep the max oldest: collect all ids (bounded by the directory),
		 * sort, cut. A flood costs memory for names only. */
		if (nv == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			char **nw = realloc(v, ncap * sizeof *nw);
			if (nw == NULL) {
				rc = -1;
				break;
			}
			v = nw;
			cap = ncap;
		}
		if ((v[nv] = strdup(nm)) == NULL) {
			rc = -1;
			break;
		}
		nv++;
	}
	int e = errno;
	closedir(d);
	if (rc < 0) {
		queue_ids_free(v, nv);
		errno = e;
		return -1;
	}
	if (nv > 1)
		qsort(v, nv, sizeof *v, queue_drop_names_cmp);
	while (nv > max)
		free(v[--nv]);
	*names = v;
	*n = nv;
	return 0;
}

void queue_drop_close(struct queue_drop *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->nrcpts; i++)
		free(d->rcpts[i]);
	free(d->rcpts);
	free(d->sender);
	if (d->fd >= 0)
		close(d->fd);
	memset(d, 0, sizeof *d);
	d->fd = -1;
}

/* One envelope line. 1 at "content", 0 for another record, -1 (EINVAL
 * or ENOMEM). */
static int queue_drop_record(struct queue_drop *d, const char *line, size_t len, size_t *cap)
{
	if (len == 7 && memcmp(line, "content", 7) == 0)
		return 1;
	if ((len == 6 && memcmp(line, "sender", 6) == 0) || (len > 6 && memcmp(line, "sender ", 7) == 0)) {
		const char *v = len > 6 ? line + 7 : "";
		size_t vlen = len > 6 ? len - 7 : 0;
		if (d->sender != NULL || d->nrcpts > 0 || !queue_drop_addr_ok(v, vlen, true))
			goto invalid;
		d->sender = strndup(v, vlen);
		return d->sender ? 0 : -1;
	}
	if (len > 5 && memcmp(line, "rcpt ", 5) == 0) {
		if (d->sender == NULL || d->nrcpts >= QUEUE_DROP_RCPTS_MAX ||
		    !queue_drop_addr_ok(line + 5, len - 5, false))
			goto invalid;
		if (d->nrcpts == *cap) {
			size_t ncap = *cap ? *cap * 2 : 8;
			char **nr = realloc(d->rcpts, ncap * sizeof *nr);
			if (nr == NULL)
				return -1;
			d->rcpts = nr;
			*cap = ncap;
		}
		if ((d->rcpts[d->nrcpts] = strndup(line + 5, len - 5)) == NULL)
			return -1;
		d->nrcpts++;
		return 0;
	}
invalid:
	errno = EINVAL;
	return -1;
}

static int queue_drop_parse(struct queue_drop *d, const struct stat *st)
{
	struct queue_file_lines l;
	if (queue_file_lines_init(&l, d->fd) < 0)
		return -1;
	size_t cap = 0;
	int rc = -1;
	for (bool first = true;; first = false) {
		enum queue_file_line_result lr = queue_file_lines_next(&l);
		if (lr == QUEUE_FILE_LINE_ERR)
			goto out;
		if (lr != QUEUE_FILE_LINE_OK || l.off > QUEUE_DROP_ENV_MAX) {
			errno = EINVAL;
			goto out;
		}
		const char *s = l.line.data ? l.line.data : "";
		if (memchr(s, '\0', l.line.len)) {
			errno = EINVAL;
			goto out;
		}
		if (first) {
			if (strcmp(s, QUEUE_DROP_MAGIC) != 0) {
				errno = EINVAL;
				goto out;
			}
			continue;
		}
		int r = queue_drop_record(d, s, l.line.len, &cap);
		if (r < 0)
			goto out;
		if (r == 1)
			break;
	}
	if (d->sender == NULL || d->nrcpts == 0) {
		errno = EINVAL;
		goto out;
	}
	if (queue_file_read_trailer(d->fd, l.off, (uint64_t)st->st_size, &d->content_len) < 0)
		goto out;
	d->content_off = (off_t)l.off;
	rc = lseek(d->fd, d->content_off, SEEK_SET) < 0 ? -1 : 0;
out:;
	int e = errno;
	queue_file_lines_free(&l);
	errno = e;
	return rc;
}

int queue_drop_open(const char *data_dir, const char *name, uint64_t max_content, struct queue_drop *d)
{
	char path[PATH_MAX];
	memset(d, 0, sizeof *d);
	d->fd = -1;
	if (!queue_id_is_valid(name)) {
		errno = EINVAL;
		return -1;
	}
	if (queue_drop_path(path, data_dir, name) < 0)
		return -1;
	/* NONBLOCK: a FIFO must not hang the opener; NOFOLLOW: a link to a
	 * file the user may not read must not be read for them. */
	do {
		d->fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	} while (d->fd < 0 && errno == EINTR);
	if (d->fd < 0) {
		if (errno == ELOOP)
			errno = EINVAL;
		return -1;
	}
	struct stat st;
	if (fstat(d->fd, &st) < 0)
		goto fail;
	d->uid = st.st_uid;
	d->mtime = st.st_mtime;
	d->dev = st.st_dev;
	d->ino = st.st_ino;
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || (st.st_mode & 0022)) {
		errno = EINVAL;
		goto fail;
	}
	uint64_t limit = max_content > UINT64_MAX - QUEUE_DROP_ENV_MAX ? UINT64_MAX : max_content + QUEUE_DROP_ENV_MAX;
	if ((uint64_t)st.st_size > limit) {
		errno = EFBIG;
		goto fail;
	}
	int fl = fcntl(d->fd, F_GETFL);
	if (fl < 0 || fcntl(d->fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		goto fail;
	if (queue_drop_parse(d, &st) < 0)
		goto fail;
	if (d->content_len > max_content) {
		errno = EFBIG;
		goto fail;
	}
	return 0;
fail:;
	int e = errno;
	queue_drop_close(d);
	errno = e;
	return -1;
}

int queue_drop_unlink(const char *data_dir, const char *name, const struct queue_drop *d)
{
	char path[PATH_MAX];
	struct stat st;
	if (queue_drop_path(path, data_dir, name) < 0)
		return -1;
	if (lstat(path, &st) < 0)
		return -1;
	/* Replaced since it was read (only its owner can): that is a new
	 * message, for the next pass. */
	if (st.st_dev != d->dev || st.st_ino != d->ino) {
		errno = ESTALE;
		return -1;
	}
	return unlink(path);
}

int queue_drop_sync(const char *data_dir)
{
	char path[PATH_MAX];
	if (queue_drop_path(path, data_dir, NULL) < 0)
		return -1;
	return fsutil_fsync_dir(path);
}
