/*
 * queue_store — queue ids, the directories under DATA-DIR/queue, removal,
 * listing and crash recovery at start-up. The file format lives in
 * queue_file.c, the per-recipient state log in queue_state.c. Everything
 * here blocks on the disk: worker pool or start-up only.
 *
 * A message's state is which files exist, and every transition is one
 * atomic file-system operation followed by a flush. What a crash at each
 * instant leaves, and what queue_recover makes of it:
 *
 *   crash during / after          on disk           recovery           outcome
 *   ----------------------------  ----------------  -----------------  --------------------
 *   writing tmp/ID                tmp/ID (partial)  deleted            no 250 was sent: the
 *                                                                      client sends again
 *   finish (fsync), before rename tmp/ID            deleted            same
 *   rename, before fsync of msg/  tmp/ID or msg/ID  tmp deleted, msg   no 250 yet; if msg/ID
 *                                                   delivered          survived: a duplicate
 *   fsync of msg/ (then 250)      msg/ID            delivered          accepted, never lost
 *   a delivery, before its "done" msg/ID (+ .st)    recipient tried    a duplicate for that
 *   is fdatasync'ed                                 again              recipient
 *   appending a state record      .st torn tail     tail ignored, cut  as the line above
 *   the last "done", before       msg/ID + .st      removed            nothing sent twice
 *   queue_remove
 *   unlink msg/ID, before unlink  orphan ID.st      deleted            nothing sent twice
 *   of ID.st
 *   outside this order (disk      msg/ID torn       moved to corrupt/  logged, kept for a
 *   damage, manual edits)                                              human
 *
 * No acknowledged message is lost; duplicates are limited to the
 * recipient whose delivery was in flight.
 */
#include "queue/queue_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/log.h"

/* Id layout: 11 base-36 digits of microseconds since the epoch (enough
 * until the year 6000, fixed width so that string order is time order),
 * then 4 base-36 digits of a per-process salt. */
#define QUEUE_ID_TIME_DIGITS 11
#define QUEUE_ID_SALT_DIGITS 4
#define QUEUE_ID_SALT_SPACE  (36u * 36u * 36u * 36u)

int queue_store_path(char *out, const char *data_dir, const char *sub, const char *name,
                     const char *suffix)
{
	int n = snprintf(out, PATH_MAX, "%s/queue%s%s%s%s%s", data_dir, sub ? "/" : "",
	                 sub ? sub : "", name ? "/" : "", name ? name : "", suffix ? suffix : "");
	if (n < 0 || n >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

bool queue_store_parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

bool queue_id_before_open(const struct queue *q, const char *id)
{
	/* The time digits: fixed width, so string order is time order. */
	return strncmp(id, q->opened, QUEUE_ID_TIME_DIGITS) < 0;
}

bool queue_id_is_valid(const char *id)
{
	size_t n = 0;
	for (; id[n]; n++) {
		char c = id[n];
		bool ok =
		    (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
		if (!ok || n + 1 >= QUEUE_ID_MAX)
			return false;
	}
	return n > 0;
}

/* ------------------------------------------------------------------ ids */

static _Atomic uint64_t queue_store_id_last_us;
static _Atomic uint64_t queue_store_id_salt_pid; /* pid << 32 | (salt + 1); 0: none yet */

/* The salt separates processes that draw ids in the same microsecond
 * (tern serve and tern sendmail, or a restart within the clock's
 * slack). Chosen afresh in a forked child, which inherits the parent's. */
static unsigned queue_store_id_salt(void)
{
	uint32_t pid = (uint32_t)getpid();
	uint64_t cur = atomic_load(&queue_store_id_salt_pid);
	if (cur != 0 && (uint32_t)(cur >> 32) == pid)
		return (unsigned)(cur & 0xffffffffu) - 1;
	uint32_t r;
	if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		r = (uint32_t)ts.tv_nsec ^ (uint32_t)ts.tv_sec;
	}
	unsigned salt = (r ^ pid * 2654435761u) % QUEUE_ID_SALT_SPACE;
	uint64_t want = (uint64_t)pid << 32 | (salt + 1);
	if (atomic_compare_exchange_strong(&queue_store_id_salt_pid, &cur, want))
		return salt;
	return (unsigned)(cur & 0xffffffffu) - 1; /* another thread won: use its salt */
}

static void queue_store_id_base36(char *out, uint64_t v, int digits)
{
	static const char set[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	for (int i = digits - 1; i >= 0; i--) {
		out[i] = set[v % 36];
		v /= 36;
	}
}

void queue_new_id(char out[QUEUE_ID_MAX])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	/* A logical clock: never the same or an earlier microsecond twice in
	 * one process, so ids are unique and increasing however fast they
	 * are drawn, and survive the wall clock stepping back meanwhile. */
	uint64_t prev = atomic_load(&queue_store_id_last_us), next;
	do {
		next = now > prev ? now : prev + 1;
	} while (!atomic_compare_exchange_weak(&queue_store_id_last_us, &prev, next));
	queue_store_id_base36(out, next, QUEUE_ID_TIME_DIGITS);
	queue_store_id_base36(out + QUEUE_ID_TIME_DIGITS, queue_store_id_salt(),
	                      QUEUE_ID_SALT_DIGITS);
	out[QUEUE_ID_TIME_DIGITS + QUEUE_ID_SALT_DIGITS] = '\0';
}

/* --------------------------------------------------------------- object */

struct queue *queue_open(const char *data_dir)
{
	struct queue *q = calloc(1, sizeof *q);
	if (q == NULL)
		return NULL;
	q->data_dir = strdup(data_dir);
	if (q->data_dir == NULL) {
		free(q);
		return NULL;
	}
	queue_new_id(q->opened);
	syncgroup_init(&q->msg_sync);
	pthread_mutex_init(&q->state_lock, NULL);
	pthread_mutex_init(&q->pool_mu, NULL);
	q->pool_next = 1;
	return q;
}

void queue_close(struct queue *q)
{
	if (q == NULL)
		return;
	syncgroup_destroy(&q->msg_sync);
	pthread_mutex_destroy(&q->state_lock);
	pthread_mutex_destroy(&q->pool_mu);
	free(q->pool_names);
	free(q->data_dir);
	free(q);
}

const char *queue_data_dir(const struct queue *q)
{
	return q->data_dir;
}

/* ---------------------------------------------------------- directories */

int queue_init_dirs(struct queue *q)
{
	const char *data_dir = q->data_dir;
	static const char *const subs[] = { "tmp", "msg", "drop", "free" };
	char path[PATH_MAX];
	for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
		if (queue_store_path(path, data_dir, subs[i], NULL, NULL) < 0 ||
		    fsutil_mkdirs(path, QUEUE_DIR_MODE) < 0)
			return -1;
	}
	return 0;
}

int queue_sync_msgdir(struct queue *q)
{
	char path[PATH_MAX];
	if (queue_store_path(path, q->data_dir, "msg", NULL, NULL) < 0)
		return -1;
	return fsutil_fsync_dir(path);
}

/*
 * The pool of finished queue files, queue/free/F<n>. Names are handed out
 * under a mutex; the files themselves move by rename, so a crash leaves
 * each either in the pool (garbage, reused later) or where it was going.
 * Files left by an earlier process are taken over on first use.
 */
static void queue_pool_scan_locked(struct queue *q)
{
	q->pool_scanned = true;
	q->pool_names = calloc(QUEUE_POOL_MAX, sizeof *q->pool_names);
	char path[PATH_MAX];
	if (q->pool_names == NULL || queue_store_path(path, q->data_dir, "free", NULL, NULL) < 0)
		return;
	DIR *d = opendir(path);
	if (d == NULL)
		return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		char *end;
		if (de->d_name[0] != 'F')
			continue;
		unsigned long n = strtoul(de->d_name + 1, &end, 10);
		if (*end != '\0' || n == 0)
			continue;
		if (n >= q->pool_next)
			q->pool_next = n + 1;
		if (q->pool_n < QUEUE_POOL_MAX)
			q->pool_names[q->pool_n++] = n;
	}
	closedir(d);
}

int queue_pool_take(struct queue *q, const char *dst)
{
	pthread_mutex_lock(&q->pool_mu);
	if (!q->pool_scanned)
		queue_pool_scan_locked(q);
	unsigned long n = q->pool_n ? q->pool_names[--q->pool_n] : 0;
	pthread_mutex_unlock(&q->pool_mu);
	if (n == 0)
		return -1;
	char name[32], path[PATH_MAX];
	snprintf(name, sizeof name, "F%lu", n);
	if (queue_store_path(path, q->data_dir, "free", name, NULL) < 0 || rename(path, dst) < 0)
		return -1;
	return 0;
}

int queue_pool_put(struct queue *q, const char *src)
{
	pthread_mutex_lock(&q->pool_mu);
	if (!q->pool_scanned)
		queue_pool_scan_locked(q);
	if (q->pool_names == NULL || q->pool_n >= QUEUE_POOL_MAX) {
		pthread_mutex_unlock(&q->pool_mu);
		return -1;
	}
	unsigned long n = q->pool_next++;
	pthread_mutex_unlock(&q->pool_mu);
	char name[32], path[PATH_MAX];
	snprintf(name, sizeof name, "F%lu", n);
	if (queue_store_path(path, q->data_dir, "free", name, NULL) < 0 || rename(src, path) < 0)
		return -1;
	pthread_mutex_lock(&q->pool_mu);
	if (q->pool_n < QUEUE_POOL_MAX)
		q->pool_names[q->pool_n++] = n;
	pthread_mutex_unlock(&q->pool_mu);
	return 0;
}

static int queue_remove_files(struct queue *q, const char *id, bool sync)
{
	const char *data_dir = q->data_dir;
	char path[PATH_MAX];
	if (!queue_id_is_valid(id)) {
		errno = EINVAL;
		return -1;
	}
	if (queue_store_path(path, data_dir, "msg", id, NULL) < 0)
		return -1;
	int missing = 0;
	/* Into the pool rather than deleted: its inode serves the next message. */
	if (queue_pool_put(q, path) < 0 && unlink(path) < 0) {
		if (errno != ENOENT)
			return -1;
		missing = 1;
	}
	if (queue_store_path(path, data_dir, "msg", id, ".st") < 0)
		return -1;
	if (unlink(path) < 0 && errno != ENOENT)
		return -1;
	if (sync && queue_sync_msgdir(q) < 0)
		return -1;
	if (missing) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

int queue_remove(struct queue *q, const char *id)
{
	return queue_remove_files(q, id, true);
}

int queue_remove_lazy(struct queue *q, const char *id)
{
	return queue_remove_files(q, id, false);
}

/* ---------------------------------------------------------- name lists */

struct queue_store_names {
	char **v; /* owned, each owned */
	size_t n, cap;
};

static int queue_store_names_push(struct queue_store_names *l, const char *s)
{
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 16;
		if (ncap < l->cap || ncap > SIZE_MAX / sizeof *l->v) {
			errno = ENOMEM;
			return -1;
		}
		char **nv = realloc(l->v, ncap * sizeof *nv);
		if (nv == NULL)
			return -1;
		l->v = nv;
		l->cap = ncap;
	}
	char *d = strdup(s);
	if (d == NULL)
		return -1;
	l->v[l->n++] = d;
	return 0;
}

void queue_ids_free(char **ids, size_t nids)
{
	if (ids == NULL)
		return;
	for (size_t i = 0; i < nids; i++)
		free(ids[i]);
	free(ids);
}

static int queue_store_names_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read the names in dir: ids into ids, everything else (but "." and "..")
 * into other. Either list may be NULL to drop those names. */
static int queue_store_names_scan(const char *dir, struct queue_store_names *ids,
                                  struct queue_store_names *other)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return -1;
	for (;;) {
		errno = 0;
		struct dirent *e = readdir(d);
		if (e == NULL)
			break;
		const char *nm = e->d_name;
		if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0)
			continue;
		struct queue_store_names *to = queue_id_is_valid(nm) ? ids : other;
		if (to && queue_store_names_push(to, nm) < 0)
			break;
	}
	int saved = errno;
	closedir(d);
	errno = saved;
	return saved ? -1 : 0;
}

int queue_list_ids(struct queue *q, char ***ids, size_t *nids)
{
	const char *data_dir = q->data_dir;
	char path[PATH_MAX];
	struct queue_store_names l = { 0 };
	*ids = NULL;
	*nids = 0;
	if (queue_store_path(path, data_dir, "msg", NULL, NULL) < 0)
		return -1;
	if (queue_store_names_scan(path, &l, NULL) < 0) {
		int saved = errno;
		queue_ids_free(l.v, l.n);
		if (saved == ENOENT)
			return 0;
		errno = saved;
		return -1;
	}
	if (l.n)
		qsort(l.v, l.n, sizeof *l.v, queue_store_names_cmp);
	*ids = l.v;
	*nids = l.n;
	return 0;
}

/* ------------------------------------------------------------- recovery */

/* A file name from the disk on a log line: escaped and capped. */
static void queue_store_recover_log(const char *name, const char *what)
{
	char v[LOG_VALUE_MAX];
	log_msg("%s %s", log_value(v, sizeof v, name), what);
}

/* Nothing in tmp/ was ever acknowledged: a 250 is sent only after the
 * rename into msg/. No flush needed: if a crash brings a name back, the
 * next start deletes it again. */
static int queue_store_recover_tmp(const char *data_dir)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct queue_store_names all = { 0 };
	if (queue_store_path(dir, data_dir, "tmp", NULL, NULL) < 0)
		return -1;
	if (queue_store_names_scan(dir, &all, &all) < 0) {
		int saved = errno;
		queue_ids_free(all.v, all.n);
		errno = saved;
		return -1;
	}
	for (size_t i = 0; i < all.n; i++) {
		if (queue_store_path(path, data_dir, "tmp", all.v[i], NULL) < 0 ||
		    (unlink(path) < 0 && errno != ENOENT))
			queue_store_recover_log(all.v[i], "queue-tmp=leftover status=not-removed");
	}
	queue_ids_free(all.v, all.n);
	return 0;
}

struct queue_corrupt_entry {
	char name[NAME_MAX + 1];
	struct timespec mtime;
	uint64_t size;
};

static int queue_corrupt_cmp(const void *a, const void *b)
{
	const struct queue_corrupt_entry *x = a, *y = b;
	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	return strcmp(x->name, y->name);
}

void queue_corrupt_make_room(const char *data_dir, uint64_t incoming)
{
	char dir[PATH_MAX], path[PATH_MAX];
	if (queue_store_path(dir, data_dir, "corrupt", NULL, NULL) < 0)
		return;
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct queue_corrupt_entry *v = NULL;
	size_t n = 0, cap = 0;
	uint64_t bytes = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct queue_corrupt_entry *nv = realloc(v, ncap * sizeof *nv);
			if (nv == NULL)
				break;
			v = nv;
			cap = ncap;
		}
		snprintf(v[n].name, sizeof v[n].name, "%s", de->d_name);
		v[n].mtime = st.st_mtim;
		v[n].size = (uint64_t)st.st_size;
		bytes += v[n].size;
		n++;
	}
	closedir(d);
	if (n + 1 > QUEUE_CORRUPT_MAX || bytes + incoming > QUEUE_CORRUPT_BYTES_MAX) {
		qsort(v, n, sizeof *v, queue_corrupt_cmp);
		size_t removed = 0;
		for (size_t i = 0; i < n && (n - removed + 1 > QUEUE_CORRUPT_MAX || bytes + incoming > QUEUE_CORRUPT_BYTES_MAX);
		     i++) {
			if (queue_store_path(path, data_dir, "corrupt", v[i].name, NULL) == 0 && unlink(path) == 0) {
				removed++;
				bytes -= v[i].size;
			}
		}
		if (removed)
			log_msg("queue/corrupt full: removed the %zu oldest file(s) (at most %d files, %llu octets kept)",
			        removed, QUEUE_CORRUPT_MAX, (unsigned long long)QUEUE_CORRUPT_BYTES_MAX);
	}
	free(v);
}

/* Move msg/NAME (and msg/NAME.st for an id) to corrupt/ for a human. */
static void queue_store_recover_quarantine(const char *data_dir, const char *name, bool with_state)
{
	char from[PATH_MAX], to[PATH_MAX];
	struct stat st;
	if (queue_store_path(from, data_dir, "msg", name, NULL) == 0 && lstat(from, &st) == 0)
		queue_corrupt_make_room(data_dir, (uint64_t)st.st_size);
	if (queue_store_path(from, data_dir, "msg", name, NULL) < 0 ||
	    queue_store_path(to, data_dir, "corrupt", name, NULL) < 0 || rename(from, to) < 0) {
		queue_store_recover_log(name, "queue-file=invalid status=not-moved");
		return;
	}
	queue_store_recover_log(name, "queue-file=invalid action=moved-to-queue/corrupt");
	if (with_state && queue_store_path(from, data_dir, "msg", name, ".st") == 0 &&
	    queue_store_path(to, data_dir, "corrupt", name, ".st") == 0)
		rename(from, to); /* ENOENT: it had no state file */
}

static bool queue_store_recover_all_finished(const struct queue_env *env)
{
	for (size_t i = 0; i < env->nrcpts; i++) {
		if (env->rcpts[i].state == QUEUE_RCPT_PENDING)
			return false;
	}
	return true;
}

/* One candidate message: 1 when it is live (the caller reports it), 0
 * when it was dealt with here. */
static int queue_store_recover_one(struct queue *q, const char *id, bool *moved)
{
	const char *data_dir = q->data_dir;
	struct queue_env env;
	if (queue_load(q, id, &env) < 0) {
		if (errno == EINVAL) {
			queue_store_recover_quarantine(data_dir, id, true);
			*moved = true;
		} else {
			char what[128];
			snprintf(what, sizeof what,
			         "queue-file=unreadable error=\"%s\" action=skipped",
			         strerror(errno));
			queue_store_recover_log(id, what);
		}
		return 0;
	}
	bool finished = queue_store_recover_all_finished(&env);
	queue_env_free(&env);
	if (finished) {
		/* Crashed between the last "done" and queue_remove. */
		if (queue_remove(q, id) < 0 && errno != ENOENT)
			queue_store_recover_log(id, "queue-file=finished status=not-removed");
		else
			queue_store_recover_log(id, "queue-file=finished action=removed");
		return 0;
	}
	if (queue_state_repair(q, id) < 0)
		queue_store_recover_log(id, "state-file=torn status=not-repaired");
	return 1;
}

/* An ID.st whose message is gone: the crash hit between the two unlinks
 * of queue_remove. Anything else that is not an id goes to corrupt/. */
static void queue_store_recover_other(const char *data_dir, const char *name, bool *moved)
{
	char path[PATH_MAX];
	size_t n = strlen(name);
	if (n > 3 && n - 3 < QUEUE_ID_MAX && strcmp(name + n - 3, ".st") == 0) {
		char id[QUEUE_ID_MAX];
		memcpy(id, name, n - 3);
		id[n - 3] = '\0';
		struct stat sb;
		if (queue_id_is_valid(id) &&
		    queue_store_path(path, data_dir, "msg", id, NULL) == 0) {
			if (lstat(path, &sb) == 0)
				return; /* its message is live */
			if (errno == ENOENT &&
			    queue_store_path(path, data_dir, "msg", name, NULL) == 0 &&
			    unlink(path) == 0) {
				queue_store_recover_log(name, "state-file=orphan action=removed");
				*moved = true;
				return;
			}
		}
	}
	struct stat sb;
	if (queue_store_path(path, data_dir, "msg", name, NULL) == 0 && lstat(path, &sb) == 0 &&
	    !S_ISREG(sb.st_mode)) {
		queue_store_recover_log(name, "queue-file=unexpected status=left-alone");
		return;
	}
	queue_store_recover_quarantine(data_dir, name, false);
	*moved = true;
}

int queue_recover(struct queue *q, void (*cb)(void *arg, const char *id), void *arg)
{
	const char *data_dir = q->data_dir;
	char path[PATH_MAX];
	struct queue_store_names ids = { 0 }, other = { 0 }, live = { 0 };
	int rc = -1;
	bool moved = false;
	if (queue_init_dirs(q) < 0)
		return -1;
	if (queue_store_path(path, data_dir, "corrupt", NULL, NULL) < 0 ||
	    fsutil_mkdirs(path, QUEUE_DIR_MODE) < 0)
		return -1;
	if (queue_store_recover_tmp(data_dir) < 0)
		return -1;
	if (queue_store_path(path, data_dir, "msg", NULL, NULL) < 0 ||
	    queue_store_names_scan(path, &ids, &other) < 0)
		goto out;
	for (size_t i = 0; i < ids.n; i++) {
		if (queue_store_recover_one(q, ids.v[i], &moved) == 1 &&
		    queue_store_names_push(&live, ids.v[i]) < 0)
			goto out;
	}
	/* After the messages: by now a quarantined message took its state
	 * file along and a finished one is gone with its own. */
	for (size_t i = 0; i < other.n; i++)
		queue_store_recover_other(data_dir, other.v[i], &moved);
	if (moved) {
		if (queue_sync_msgdir(q) < 0)
			goto out;
		if (queue_store_path(path, data_dir, "corrupt", NULL, NULL) < 0 ||
		    fsutil_fsync_dir(path) < 0)
			goto out;
	}
	if (live.n)
		qsort(live.v, live.n, sizeof *live.v, queue_store_names_cmp);
	for (size_t i = 0; cb && i < live.n; i++)
		cb(arg, live.v[i]);
	rc = 0;
out:;
	int saved = errno;
	queue_ids_free(ids.v, ids.n);
	queue_ids_free(other.v, other.n);
	queue_ids_free(live.v, live.n);
	errno = saved;
	return rc;
}
