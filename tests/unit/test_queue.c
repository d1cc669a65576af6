/*
 * test_queue — the queue store against a real file system in a fresh
 * temporary data-dir per test: round trips of the file format, refusal
 * of forged envelope values, every truncation of a queue file (the crash
 * test of the format), the state log, recovery, ids; the tail records of
 * format 2 and the format-1 files older versions wrote; and the
 * base/fsutil helpers the queue stands on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/log.h"
#include "queue/queue_store.h"

struct tq {
	char dir[64];
	struct queue *q;
};

static int test_queue_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int test_queue_setup(void **state)
{
	struct tq *t = calloc(1, sizeof *t);
	assert_non_null(t);
	snprintf(t->dir, sizeof t->dir, "/tmp/tern-tq-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	t->q = queue_open(t->dir);
	assert_non_null(t->q);
	assert_int_equal(queue_init_dirs(t->q), 0);
	log_set_quiet(1);
	*state = t;
	return 0;
}

static int test_queue_teardown(void **state)
{
	struct tq *t = *state;
	nftw(t->dir, test_queue_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	queue_close(t->q);
	free(t);
	return 0;
}

static void test_queue_path(char *out, const struct tq *t, const char *sub, const char *name)
{
	snprintf(out, PATH_MAX, "%s/queue/%s/%s", t->dir, sub, name);
}

static size_t test_queue_count(const struct tq *t, const char *sub)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/queue/%s", t->dir, sub);
	DIR *d = opendir(path);
	if (d == NULL)
		return 0;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	}
	closedir(d);
	return n;
}

static bool test_queue_exists(const struct tq *t, const char *sub, const char *name)
{
	char path[PATH_MAX];
	struct stat sb;
	test_queue_path(path, t, sub, name);
	return lstat(path, &sb) == 0;
}

/* A three-recipient envelope with every field set; strings are static
 * (the test never frees this env). */
static void test_queue_env(struct queue_env *env, struct queue_rcpt rcpts[3])
{
	memset(env, 0, sizeof *env);
	memset(rcpts, 0, 3 * sizeof *rcpts);
	queue_new_id(env->id);
	env->arrival = 1700000000;
	env->sender = "alice@example.org";
	env->helo = "mail.example.org with spaces";
	env->client = "192.0.2.1 [port 4242]";
	env->auth_user = "alice@example.org";
	env->smtputf8 = true;
	env->eightbit = true;
	rcpts[0].addr = "bob@example.org";
	rcpts[0].orcpt = "rfc822;Bob@Example.ORG";
	rcpts[1].addr = "\"john doe\"@example.net"; /* a space, escaped on disk */
	rcpts[1].orcpt = NULL;                      /* defaults to addr */
	rcpts[2].addr = "x%y@example.com";
	rcpts[2].orcpt = "";
	env->rcpts = rcpts;
	env->nrcpts = 3;
}

static void test_queue_store_msg(const struct tq *t, const struct queue_env *env,
                                 const void *content, size_t len, size_t chunk)
{
	struct queue_writer *w = queue_writer_open(t->q, env);
	assert_non_null(w);
	const char *c = content;
	for (size_t off = 0; off < len;) {
		size_t n = len - off < chunk ? len - off : chunk;
		assert_int_equal(queue_writer_write(w, c + off, n), 0);
		off += n;
	}
	assert_int_equal(queue_writer_length(w), len);
	assert_int_equal(queue_writer_finish(w), 0);
	assert_int_equal(queue_writer_commit(w), 0);
	assert_int_equal(queue_sync_msgdir(t->q), 0);
}

static void test_queue_check_content(const struct tq *t, const struct queue_env *env,
                                     const void *content, size_t len)
{
	assert_int_equal(env->content_len, len);
	int fd = queue_open_content(t->q, env);
	assert_true(fd >= 0);
	char *got = malloc(len + 4);
	assert_non_null(got);
	assert_int_equal(fsutil_read_all(fd, got, len + 4), (ssize_t)len + 4);
	bool same = memcmp(got, content, len) == 0 && memcmp(got + len, "END ", 4) == 0;
	free(got);
	close(fd);
	assert_true(same); /* the content, then the trailer */
}

static void test_queue_fill_random(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (unsigned char)(seed >> 16);
	}
}

static void test_queue_round_trip(void **state)
{
	struct tq *t = *state;
	struct queue_env env;
	struct queue_rcpt rcpts[3];
	test_queue_env(&env, rcpts);

	/* Bigger than the 64 KiB write buffer, every byte value, in chunk
	 * sizes that cross the buffer's edge in different ways. */
	size_t len = 300000;
	unsigned char *content = malloc(len);
	assert_non_null(content);
	test_queue_fill_random(content, len, 7);
	static const size_t chunks[] = { 1, 7, 4096, 65536, 100000, 300000 };
	for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
		size_t l = chunks[k] == 1 ? 5000 : len;
		queue_new_id(env.id);
		test_queue_store_msg(t, &env, content, l, chunks[k]);

		struct queue_env got;
		assert_int_equal(queue_load(t->q, env.id, &got), 0);
		assert_string_equal(got.id, env.id);
		assert_int_equal(got.arrival, 1700000000);
		assert_string_equal(got.sender, env.sender);
		assert_string_equal(got.helo, env.helo);
		assert_string_equal(got.client, env.client);
		assert_string_equal(got.auth_user, env.auth_user);
		assert_true(got.smtputf8);
		assert_true(got.eightbit);
		assert_int_equal(got.nrcpts, 3);
		assert_string_equal(got.rcpts[0].addr, "bob@example.org");
		assert_string_equal(got.rcpts[0].orcpt, "rfc822;Bob@Example.ORG");
		assert_string_equal(got.rcpts[1].addr, "\"john doe\"@example.net");
		assert_string_equal(got.rcpts[1].orcpt, "\"john doe\"@example.net");
		assert_string_equal(got.rcpts[2].addr, "x%y@example.com");
		assert_string_equal(got.rcpts[2].orcpt, "");
		for (size_t i = 0; i < 3; i++) {
			assert_int_equal(got.rcpts[i].state, QUEUE_RCPT_PENDING);
			assert_int_equal(got.rcpts[i].attempts, 0);
			assert_int_equal(got.rcpts[i].next_try, 0);
			assert_null(got.rcpts[i].last_error);
		}
		test_queue_check_content(t, &got, content, l);
		queue_env_free(&got);
	}
	free(content);
	assert_int_equal(test_queue_count(t, "tmp"), 0);
}

static void test_queue_minimal_env(void **state)
{
	struct tq *t = *state;
	struct queue_rcpt r = { .addr = "postmaster@example.org" };
	struct queue_env env = { .sender = "", .rcpts = &r, .nrcpts = 1 };
	queue_new_id(env.id);
	test_queue_store_msg(t, &env, "", 0, 1);

	struct queue_env got;
	assert_int_equal(queue_load(t->q, env.id, &got), 0);
	assert_string_equal(got.sender, "");
	assert_null(got.helo);
	assert_null(got.client);
	assert_null(got.auth_user);
	assert_false(got.smtputf8);
	assert_false(got.eightbit);
	assert_int_equal(got.arrival, 0);
	test_queue_check_content(t, &got, "", 0);
	queue_env_free(&got);
	queue_env_free(&got); /* freeing twice is harmless: it was zeroed */
}

static void test_queue_forged_envelope(void **state)
{
	struct tq *t = *state;
	static char bad[][16] = { "a\r\nrcpt evil@x", "a\rb", "a\nb" };
	for (size_t b = 0; b < 3; b++) {
		for (int field = 0; field < 6; field++) {
			struct queue_env env;
			struct queue_rcpt rcpts[3];
			test_queue_env(&env, rcpts);
			switch (field) {
			case 0:
				env.sender = bad[b];
				break;
			case 1:
				env.helo = bad[b];
				break;
			case 2:
				env.client = bad[b];
				break;
			case 3:
				env.auth_user = bad[b];
				break;
			case 4:
				rcpts[1].addr = bad[b];
				break;
			default:
				rcpts[2].orcpt = bad[b];
				break;
			}
			errno = 0;
			assert_null(queue_writer_open(t->q, &env));
			assert_int_equal(errno, EINVAL);
		}
	}
	/* Other refusals: no recipient, empty address, bad id. */
	struct queue_env env;
	struct queue_rcpt rcpts[3];
	test_queue_env(&env, rcpts);
	env.nrcpts = 0;
	assert_null(queue_writer_open(t->q, &env));
	assert_int_equal(errno, EINVAL);
	test_queue_env(&env, rcpts);
	rcpts[0].addr = "";
	assert_null(queue_writer_open(t->q, &env));
	assert_int_equal(errno, EINVAL);
	test_queue_env(&env, rcpts);
	snprintf(env.id, sizeof env.id, "../x");
	assert_null(queue_writer_open(t->q, &env));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(test_queue_count(t, "tmp"), 0);
	assert_int_equal(test_queue_count(t, "msg"), 0);
}

static void test_queue_write_raw(const struct tq *t, const char *id, const void *p, size_t n)
{
	char path[PATH_MAX];
	test_queue_path(path, t, "msg", id);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fsutil_write_all(fd, p, n), 0);
	close(fd);
}

/* The crash test of the format: every prefix of a queue file is refused
 * as torn, only the whole file loads. */
static void test_queue_torn(void **state)
{
	struct tq *t = *state;
	struct queue_env env;
	struct queue_rcpt rcpts[3];
	test_queue_env(&env, rcpts);
	/* Arbitrary octets (CR, LF, NUL, "END" without its number) that end
	 * in digits, right before the trailer's "END". */
	unsigned char content[600];
	test_queue_fill_random(content, sizeof content, 42);
	memcpy(content + 100, "\r\n.\r\nEND \nEND x\n\0\0content\n", 26);
	memcpy(content + sizeof content - 3, "123", 3);
	test_queue_store_msg(t, &env, content, sizeof content, 100);

	char path[PATH_MAX];
	test_queue_path(path, t, "msg", env.id);
	char *full;
	size_t flen;
	assert_int_equal(fsutil_read_file(path, 1 << 20, &full, &flen), 0);
	for (size_t l = 0; l <= flen; l++) {
		test_queue_write_raw(t, env.id, full, l);
		struct queue_env got;
		errno = 0;
		int r = queue_load(t->q, env.id, &got);
		if (l < flen) {
			if (r != -1 || errno != EINVAL)
				fail_msg("prefix of %zu of %zu octets loaded (r=%d errno=%d)", l,
				         flen, r, errno);
			assert_int_equal(got.nrcpts, 0);
			assert_null(got.rcpts);
		} else {
			assert_int_equal(r, 0);
			test_queue_check_content(t, &got, content, sizeof content);
			queue_env_free(&got);
		}
	}
	/* One octet more is just as wrong. */
	char *longer = malloc(flen + 1);
	assert_non_null(longer);
	memcpy(longer, full, flen);
	longer[flen] = '\n';
	test_queue_write_raw(t, env.id, longer, flen + 1);
	struct queue_env got;
	assert_int_equal(queue_load(t->q, env.id, &got), -1);
	assert_int_equal(errno, EINVAL);
	free(longer);
	free(full);
}

/* Hand-made files the reader must refuse. */
static void test_queue_invalid_files(void **state)
{
	struct tq *t = *state;
	char id[QUEUE_ID_MAX], other[QUEUE_ID_MAX];
	queue_new_id(id);
	queue_new_id(other);
	char good[512];
	snprintf(good, sizeof good,
	         "tern-queue 1\nid %s\narrival 5\nsender a@b\nrcpt c@d c@d\ncontent\nhiEND 2\n",
	         id);
	test_queue_write_raw(t, id, good, strlen(good));
	struct queue_env got;
	assert_int_equal(queue_load(t->q, id, &got), 0);
	test_queue_check_content(t, &got, "hi", 2);
	queue_env_free(&got);

	const char *bad[] = {
		"tern-queue 3\nid %s\narrival 5\nsender a@b\nrcpt c@d c@d\ncontent\nhiEND 2\n",
		"tern-queue 1\nid %s\narrival 5\nsender a@b\nrcpt c@d c@d\nbogus x\ncontent\nhiEND "
		"2\n",
		"tern-queue 1\nid %s\narrival 5\nsender a@b\nsender a@b\nrcpt c@d "
		"c@d\ncontent\nhiEND 2\n",
		"tern-queue 1\nid %s\narrival 5\nrcpt c@d c@d\ncontent\nhiEND 2\n",
		"tern-queue 1\nid %s\narrival 5\nsender a@b\ncontent\nhiEND 2\n",
		"tern-queue 1\nid %s\narrival 05\nsender a@b\nrcpt c@d c@d\ncontent\nhiEND 2\n",
		"tern-queue 1\nid %s\narrival 5\nsender a@b\nrcpt c@d\ncontent\nhiEND 2\n",
		"tern-queue 1\nid %s\narrival 5\nsender a@b\nrcpt c%%41@d c@d\ncontent\nhiEND 2\n",
		"tern-queue 1\nid %s\narrival 5\nsender a@b\r\nrcpt c@d c@d\ncontent\nhiEND 2\n",
		"tern-queue 1\nid %s\narrival 5\nsender a@b\nrcpt c@d c@d\ncontent\nhiEND 02\n",
		"tern-queue 1\nid %s\narrival 5\nsender a@b\nrcpt c@d c@d\ncontent\nhiEND 3\n",
		"tern-queue 1\nid %s\narrival 5\nsender a@b\nrcpt c@d c@d\ncontent\nhiEND 2",
		"tern-queue 1\nid %s\narrival 5\nsender a@b\nrcpt c@d c@d\nsmtputf8 "
		"yes\ncontent\nhiEND 2\n",
		"tern-queue 1\nid %s\narrival 5\nsender a@b\nrcpt c@d c@d\ncontent\nhiEND  2\n",
		"tern-queue 1\nid %s\narrival 5\nsender a@b\nhelo\nrcpt c@d c@d\ncontent\nhiEND "
		"2\n",
		"tern-queue 1\nid %s\narrival 5\nsender a@b\nrcpt c@d c@d\ncontent\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char buf[512];
		snprintf(buf, sizeof buf, bad[i], id);
		test_queue_write_raw(t, id, buf, strlen(buf));
		errno = 0;
		if (queue_load(t->q, id, &got) != -1 || errno != EINVAL)
			fail_msg("bad file %zu loaded", i);
	}
	/* The id inside must match the file's name. */
	test_queue_write_raw(t, other, good, strlen(good));
	assert_int_equal(queue_load(t->q, other, &got), -1);
	assert_int_equal(errno, EINVAL);
	/* A missing file is not "torn". */
	char missing[QUEUE_ID_MAX];
	queue_new_id(missing);
	assert_int_equal(queue_load(t->q, missing, &got), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(queue_load(t->q, "../msg", &got), -1);
	assert_int_equal(errno, EINVAL);
}

static void test_queue_writer_misuse(void **state)
{
	struct tq *t = *state;
	struct queue_env env;
	struct queue_rcpt rcpts[3];
	test_queue_env(&env, rcpts);

	/* abort removes tmp/ID */
	struct queue_writer *w = queue_writer_open(t->q, &env);
	assert_non_null(w);
	assert_int_equal(queue_writer_write(w, "abc", 3), 0);
	assert_int_equal(test_queue_count(t, "tmp"), 1);
	queue_writer_abort(w);
	queue_writer_abort(NULL);
	assert_int_equal(test_queue_count(t, "tmp"), 0);

	/* commit before finish: refused, cleaned up */
	w = queue_writer_open(t->q, &env);
	assert_non_null(w);
	assert_int_equal(queue_writer_commit(w), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(test_queue_count(t, "tmp"), 0);
	assert_int_equal(test_queue_count(t, "msg"), 0);

	/* write after finish, finish twice */
	w = queue_writer_open(t->q, &env);
	assert_non_null(w);
	assert_int_equal(queue_writer_finish(w), 0);
	assert_int_equal(queue_writer_write(w, "x", 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(queue_writer_finish(w), -1);
	assert_int_equal(queue_writer_commit(w), 0);

	/* the same id again: tmp/ID is O_EXCL-fresh, msg/ID never replaced */
	w = queue_writer_open(t->q, &env);
	assert_non_null(w);
	assert_int_equal(queue_writer_write(w, "other", 5), 0);
	assert_int_equal(queue_writer_finish(w), 0);
	assert_int_equal(queue_writer_commit(w), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(test_queue_count(t, "tmp"), 0);
	struct queue_env got;
	assert_int_equal(queue_load(t->q, env.id, &got), 0);
	assert_int_equal(got.content_len, 0);
	queue_env_free(&got);

	/* remove: both files gone, then ENOENT */
	assert_int_equal(queue_mark(t->q, env.id, 0, QUEUE_RCPT_DONE, 0, 0, NULL, true), 0);
	assert_true(test_queue_exists(t, "msg", env.id));
	assert_int_equal(queue_remove(t->q, env.id), 0);
	assert_int_equal(test_queue_count(t, "msg"), 0);
	assert_int_equal(queue_remove(t->q, env.id), -1);
	assert_int_equal(errno, ENOENT);
}

static void test_queue_state_log(void **state)
{
	struct tq *t = *state;
	struct queue_env env;
	struct queue_rcpt rcpts[3];
	test_queue_env(&env, rcpts);
	test_queue_store_msg(t, &env, "body\n", 5, 5);

	assert_int_equal(
	    queue_mark(t->q, env.id, 2, QUEUE_RCPT_PENDING, 1700000000, 1, "421 busy", false), 0);
	assert_int_equal(queue_mark(t->q, env.id, 0, QUEUE_RCPT_DONE, 0, 0, "ignored", true), 0);
	assert_int_equal(queue_mark(t->q, env.id, 1, QUEUE_RCPT_FAILED, 0, 0,
	                            "550-5.1.1 no\r\n550 such\tuser \x01\xc3\xa9\r\n", true),
	                 0);
	/* later lines win */
	assert_int_equal(
	    queue_mark(t->q, env.id, 2, QUEUE_RCPT_PENDING, 1700000600, 2, "451 later", false),
	    0);
	/* bad records in the middle are skipped */
	char path[PATH_MAX];
	char name[QUEUE_ID_MAX + 3];
	snprintf(name, sizeof name, "%s.st", env.id);
	test_queue_path(path, t, "msg", name);
	int fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	const char *junk = "bogus 1\ndone 99\ndone x\ndefer 2 12\ndone 2 extra\n\n";
	assert_int_equal(fsutil_write_all(fd, junk, strlen(junk)), 0);
	/* and a torn last record (crash mid-append) is ignored */
	assert_int_equal(fsutil_write_all(fd, "done 2", 6), 0);
	close(fd);

	struct queue_env got;
	assert_int_equal(queue_load(t->q, env.id, &got), 0);
	assert_int_equal(got.rcpts[0].state, QUEUE_RCPT_DONE);
	assert_null(got.rcpts[0].last_error);
	assert_int_equal(got.rcpts[1].state, QUEUE_RCPT_FAILED);
	assert_string_equal(got.rcpts[1].last_error, "550-5.1.1 no  550 such user ???");
	assert_int_equal(got.rcpts[2].state, QUEUE_RCPT_PENDING);
	assert_int_equal(got.rcpts[2].next_try, 1700000600);
	assert_int_equal(got.rcpts[2].attempts, 2);
	assert_string_equal(got.rcpts[2].last_error, "451 later");
	queue_env_free(&got);

	/* long texts are capped */
	char longtext[2000];
	memset(longtext, 'x', sizeof longtext - 1);
	longtext[sizeof longtext - 1] = '\0';
	/* recover cuts the torn tail before anything is appended */
	char **ids;
	size_t nids;
	assert_int_equal(queue_recover(t->q, NULL, NULL), 0);
	char *st;
	size_t stlen;
	assert_int_equal(fsutil_read_file(path, 1 << 20, &st, &stlen), 0);
	assert_true(stlen > 0 && st[stlen - 1] == '\n');
	free(st);
	assert_int_equal(queue_mark(t->q, env.id, 2, QUEUE_RCPT_PENDING, 5, 3, longtext, false),
	                 0);
	assert_int_equal(queue_load(t->q, env.id, &got), 0);
	assert_int_equal(strlen(got.rcpts[2].last_error), 400);
	assert_int_equal(got.rcpts[2].attempts, 3);
	queue_env_free(&got);

	/* the last recipient done: recover removes the message */
	assert_int_equal(queue_mark(t->q, env.id, 2, QUEUE_RCPT_DONE, 0, 0, NULL, true), 0);
	assert_int_equal(queue_load(t->q, env.id, &got), 0);
	assert_int_equal(got.rcpts[2].state, QUEUE_RCPT_DONE);
	queue_env_free(&got);
	assert_int_equal(queue_recover(t->q, NULL, NULL), 0);
	assert_int_equal(queue_list_ids(t->q, &ids, &nids), 0);
	assert_int_equal(nids, 0);
	queue_ids_free(ids, nids);
	assert_int_equal(test_queue_count(t, "msg"), 0);

	/* refusals */
	assert_int_equal(queue_mark(t->q, "../x", 0, QUEUE_RCPT_DONE, 0, 0, NULL, false), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(queue_mark(t->q, env.id, 0, (enum queue_rcpt_state)7, 0, 0, NULL, false),
	                 -1);
	assert_int_equal(errno, EINVAL);
}

struct test_queue_seen {
	char ids[16][QUEUE_ID_MAX];
	size_t n;
};

static void test_queue_recover_cb(void *arg, const char *id)
{
	struct test_queue_seen *s = arg;
	assert_true(s->n < 16);
	snprintf(s->ids[s->n++], QUEUE_ID_MAX, "%s", id);
}

static void test_queue_recover(void **state)
{
	struct tq *t = *state;
	struct queue_env env;
	struct queue_rcpt rcpts[3];
	char live[3][QUEUE_ID_MAX], torn[QUEUE_ID_MAX], done[QUEUE_ID_MAX], orphan[QUEUE_ID_MAX];
	for (int i = 0; i < 3; i++)
		queue_new_id(live[i]);
	queue_new_id(torn);
	queue_new_id(done);
	queue_new_id(orphan);
	/* committed newest first, reported oldest first */
	for (int i = 2; i >= 0; i--) {
		test_queue_env(&env, rcpts);
		memcpy(env.id, live[i], QUEUE_ID_MAX);
		test_queue_store_msg(t, &env, "x\n", 2, 2);
	}
	assert_int_equal(queue_mark(t->q, live[1], 0, QUEUE_RCPT_DONE, 0, 0, NULL, true), 0);

	test_queue_env(&env, rcpts);
	memcpy(env.id, torn, QUEUE_ID_MAX);
	test_queue_store_msg(t, &env, "torn\n", 5, 5);
	assert_int_equal(queue_mark(t->q, torn, 0, QUEUE_RCPT_DONE, 0, 0, NULL, true), 0);
	char path[PATH_MAX];
	test_queue_path(path, t, "msg", torn);
	assert_int_equal(truncate(path, 40), 0);

	test_queue_env(&env, rcpts);
	memcpy(env.id, done, QUEUE_ID_MAX);
	test_queue_store_msg(t, &env, "done\n", 5, 5);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(queue_mark(t->q, done, i,
		                            i == 1 ? QUEUE_RCPT_FAILED : QUEUE_RCPT_DONE, 0, 0,
		                            "550 no", true),
		                 0);

	char name[64];
	snprintf(name, sizeof name, "%s.st", orphan);
	test_queue_write_raw(t, name, "done 0\n", 7);
	test_queue_write_raw(t, "notes.txt", "hello", 5);
	/* leftovers of receptions that never finished */
	char tmp[PATH_MAX];
	test_queue_path(tmp, t, "tmp", "ABC");
	assert_int_equal(fsutil_replace_file(tmp, "partial", 7, 0600), 0);
	test_queue_path(tmp, t, "tmp", "weird name");
	assert_int_equal(fsutil_replace_file(tmp, "", 0, 0600), 0);

	struct test_queue_seen seen = { .n = 0 };
	assert_int_equal(queue_recover(t->q, test_queue_recover_cb, &seen), 0);
	assert_int_equal(seen.n, 3);
	for (int i = 0; i < 3; i++)
		assert_string_equal(seen.ids[i], live[i]);
	assert_int_equal(test_queue_count(t, "tmp"), 0);
	assert_true(test_queue_exists(t, "corrupt", torn));
	snprintf(name, sizeof name, "%s.st", torn);
	assert_true(test_queue_exists(t, "corrupt", name));
	assert_true(test_queue_exists(t, "corrupt", "notes.txt"));
	assert_false(test_queue_exists(t, "msg", done));
	snprintf(name, sizeof name, "%s.st", done);
	assert_false(test_queue_exists(t, "msg", name));
	snprintf(name, sizeof name, "%s.st", orphan);
	assert_false(test_queue_exists(t, "msg", name));
	snprintf(name, sizeof name, "%s.st", live[1]);
	assert_true(test_queue_exists(t, "msg", name));

	char **ids;
	size_t nids;
	assert_int_equal(queue_list_ids(t->q, &ids, &nids), 0);
	assert_int_equal(nids, 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(ids[i], live[i]);
	queue_ids_free(ids, nids);

	/* a second start finds nothing more to do */
	seen.n = 0;
	assert_int_equal(queue_recover(t->q, test_queue_recover_cb, &seen), 0);
	assert_int_equal(seen.n, 3);
}

static void test_queue_recover_fresh(void **state)
{
	struct tq *t = *state;
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s/new/data", t->dir);
	struct queue *dq = queue_open(dir);
	assert_non_null(dq);
	char **ids;
	size_t nids;
	assert_int_equal(queue_list_ids(dq, &ids, &nids), 0);
	assert_int_equal(nids, 0);
	queue_ids_free(ids, nids);
	assert_int_equal(queue_recover(dq, NULL, NULL), 0);
	struct stat sb;
	snprintf(dir, sizeof dir, "%s/new/data/queue/msg", t->dir);
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	snprintf(dir, sizeof dir, "%s/new/data/queue/corrupt", t->dir);
	assert_int_equal(stat(dir, &sb), 0);
	queue_close(dq);
}

/* The child of the kill -9 test: receives, commits and finishes
 * messages until it is killed, reporting each step on the pipe with one
 * atomic write: 'A' accepted (after the flush of msg/, where the server
 * would answer 250), 'F' about to mark the last recipients (from then on
 * recovery may remove it). */
static void test_queue_kill9_child(const char *dir, int out)
{
	struct queue *dq = queue_open(dir);
	if (dq == NULL)
		_exit(2);
	static unsigned char content[200000];
	test_queue_fill_random(content, sizeof content, 5);
	for (unsigned i = 0;; i++) {
		struct queue_env env;
		struct queue_rcpt rcpts[3];
		test_queue_env(&env, rcpts);
		size_t len = (i * 7919u) % sizeof content;
		struct queue_writer *w = queue_writer_open(dq, &env);
		if (w == NULL)
			_exit(2);
		for (size_t off = 0; off < len; off += 1000) {
			size_t n = len - off < 1000 ? len - off : 1000;
			if (queue_writer_write(w, content + off, n) < 0)
				_exit(2);
		}
		if (queue_writer_finish(w) < 0 || queue_writer_commit(w) < 0 ||
		    queue_sync_msgdir(dq) < 0)
			_exit(2);
		char rec[1 + QUEUE_ID_MAX] = "A";
		memcpy(rec + 1, env.id, QUEUE_ID_MAX);
		if (write(out, rec, sizeof rec) != (ssize_t)sizeof rec)
			_exit(2);
		if (queue_mark(dq, env.id, 0, QUEUE_RCPT_DONE, 0, 1, NULL, true) < 0 ||
		    queue_mark(dq, env.id, 1, QUEUE_RCPT_PENDING, 99, 1, "451 later", false) < 0)
			_exit(2);
		if (i % 3 == 0) {
			/* told first: once the last mark is written, recovery
			 * may rightly remove the message */
			rec[0] = 'F';
			if (write(out, rec, sizeof rec) != (ssize_t)sizeof rec)
				_exit(2);
			if (queue_mark(dq, env.id, 1, QUEUE_RCPT_DONE, 0, 2, NULL, false) < 0 ||
			    queue_mark(dq, env.id, 2, QUEUE_RCPT_FAILED, 0, 1, "550 no", true) < 0)
				_exit(2);
			queue_remove(dq, env.id);
		}
	}
}

struct test_queue_ids {
	char (*v)[QUEUE_ID_MAX];
	size_t n;
};

static void test_queue_kill9_cb(void *arg, const char *id)
{
	struct test_queue_ids *l = arg;
	char(*nv)[QUEUE_ID_MAX] = realloc(l->v, (l->n + 1) * sizeof *nv);
	assert_non_null(nv);
	l->v = nv;
	snprintf(l->v[l->n++], QUEUE_ID_MAX, "%s", id);
}

/* STYLE.md principle 9's kill -9 test: whatever instant a receiving and
 * delivering process dies at, every message it acknowledged is found by
 * recovery, valid, and nothing unacknowledged or torn is left. (A
 * process crash keeps the page cache; power loss is the fsync order's
 * job, argued in queue_store.c.) */
static void test_queue_kill9(void **state)
{
	struct tq *t = *state;
	for (int round = 0; round < 25; round++) {
		char dir[PATH_MAX];
		snprintf(dir, sizeof dir, "%s/r%d", t->dir, round);
		struct queue *dq = queue_open(dir);
		assert_non_null(dq);
		assert_int_equal(queue_init_dirs(dq), 0);
		int p[2];
		assert_int_equal(pipe(p), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			test_queue_kill9_child(dir, p[1]);
			_exit(0);
		}
		close(p[1]);
		struct timespec ts = { 0, (long)(1 + (round * 7) % 40) * 1000000L };
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status)); /* not an early exit of its own */

		struct test_queue_ids acked = { 0 }, finished = { 0 }, found = { 0 };
		char rec[1 + QUEUE_ID_MAX];
		while (fsutil_read_all(p[0], rec, sizeof rec) == (ssize_t)sizeof rec)
			test_queue_kill9_cb(rec[0] == 'A' ? &acked : &finished, rec + 1);
		close(p[0]);

		assert_int_equal(queue_recover(dq, test_queue_kill9_cb, &found), 0);
		char sub[PATH_MAX];
		snprintf(sub, sizeof sub, "r%d/queue/tmp", round);
		assert_int_equal(test_queue_count((const struct tq *)t, sub), 0);
		snprintf(sub, sizeof sub, "r%d/queue/corrupt", round);
		assert_int_equal(test_queue_count((const struct tq *)t, sub), 0);
		for (size_t i = 0; i < acked.n; i++) {
			bool done = false, live = false;
			for (size_t j = 0; j < finished.n; j++)
				done = done || strcmp(finished.v[j], acked.v[i]) == 0;
			for (size_t j = 0; j < found.n; j++)
				live = live || strcmp(found.v[j], acked.v[i]) == 0;
			if (!live && !done)
				fail_msg("round %d: acknowledged %s lost", round, acked.v[i]);
			if (live) {
				struct queue_env env;
				assert_int_equal(queue_load(dq, acked.v[i], &env), 0);
				queue_env_free(&env);
			}
		}
		/* Anything found that was not acknowledged was at most renamed
		 * before the kill: it is complete too (it loaded above or here). */
		for (size_t j = 0; j < found.n; j++) {
			struct queue_env env;
			assert_int_equal(queue_load(dq, found.v[j], &env), 0);
			queue_env_free(&env);
		}
		free(acked.v);
		free(finished.v);
		free(found.v);
		queue_close(dq);
	}
}

/* A removed message's file is recycled for the next one: a shorter
 * message written over a longer one must load exactly (old tail cut). */
static void test_queue_recycled_files(void **state)
{
	struct tq *t = *state;
	struct queue_env env;
	struct queue_rcpt rcpts[3];
	static unsigned char big[200000];
	test_queue_fill_random(big, sizeof big, 7);
	/* the pool belongs to the process: put this data-dir's first file in it */
	test_queue_env(&env, rcpts);
	test_queue_store_msg(t, &env, big, sizeof big, 4096);
	assert_int_equal(queue_remove(t->q, env.id), 0);
	assert_false(test_queue_exists(t, "msg", env.id));
	assert_int_equal(test_queue_count(t, "free"), 1);

	struct queue_env small;
	struct queue_rcpt r2[3];
	test_queue_env(&small, r2);
	test_queue_store_msg(t, &small, "short\n", 6, 6);
	assert_int_equal(test_queue_count(t, "free"), 0); /* taken from the pool */
	struct queue_env got;
	assert_int_equal(queue_load(t->q, small.id, &got), 0);
	test_queue_check_content(t, &got, "short\n", 6);
	queue_env_free(&got);
}

static int test_queue_strcmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void test_queue_ids(void **state)
{
	(void)state;
	enum { N = 100000 };
	char(*ids)[QUEUE_ID_MAX] = malloc(N * sizeof *ids);
	assert_non_null(ids);
	for (size_t i = 0; i < N; i++)
		queue_new_id(ids[i]);
	for (size_t i = 0; i < N; i++) {
		assert_true(queue_id_is_valid(ids[i]));
		assert_int_equal(strlen(ids[i]), 15);
		if (i > 0 && strcmp(ids[i - 1], ids[i]) >= 0)
			fail_msg("id %zu not after its predecessor: %s %s", i, ids[i - 1], ids[i]);
	}
	/* sorting changes nothing: sorted and unique */
	qsort(ids, N, sizeof *ids, test_queue_strcmp);
	for (size_t i = 1; i < N; i++)
		assert_true(strcmp(ids[i - 1], ids[i]) < 0);
	free(ids);

	assert_false(queue_id_is_valid(""));
	assert_false(queue_id_is_valid("../etc"));
	assert_false(queue_id_is_valid("ABC.st"));
	assert_false(queue_id_is_valid("ABCDEFGHIJKLMNOPQRSTUVWXYZ"));
	assert_true(queue_id_is_valid("ABCDEFGHIJKLMNOPQRSTUVW")); /* 23 */
}

static void test_queue_fsutil(void **state)
{
	struct tq *t = *state;
	char p[PATH_MAX];
	struct stat sb;
	snprintf(p, sizeof p, "%s/a/b//c/", t->dir);
	assert_int_equal(fsutil_mkdirs(p, 0700), 0);
	assert_int_equal(fsutil_mkdirs(p, 0700), 0);
	snprintf(p, sizeof p, "%s/a/b/c", t->dir);
	assert_int_equal(stat(p, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));

	snprintf(p, sizeof p, "%s/a/file", t->dir);
	assert_int_equal(fsutil_replace_file(p, "one", 3, 0600), 0);
	assert_int_equal(fsutil_replace_file(p, "two!", 4, 0600), 0);
	char *data;
	size_t len;
	assert_int_equal(fsutil_read_file(p, 4, &data, &len), 0);
	assert_int_equal(len, 4);
	assert_string_equal(data, "two!");
	free(data);
	assert_int_equal(fsutil_read_file(p, 3, &data, &len), -1);
	assert_int_equal(errno, EFBIG);
	assert_null(data);

	snprintf(p, sizeof p, "%s/a/file/sub", t->dir);
	assert_int_equal(fsutil_mkdirs(p, 0700), -1);
	assert_int_equal(errno, ENOTDIR);
	snprintf(p, sizeof p, "%s/a", t->dir);
	assert_int_equal(fsutil_fsync_dir(p), 0);
	snprintf(p, sizeof p, "%s/a/nothing", t->dir);
	assert_int_equal(fsutil_fsync_dir(p), -1);
	assert_int_equal(errno, ENOENT);
}

/* ------------------------------------------------------------- the tail */

/* Like test_queue_store_msg, with queue_writer_tail after the content. */
static void test_queue_store_tailed(const struct tq *t, const struct queue_env *env, const void *content,
                                    size_t len, size_t chunk, const char *fields, const char *out_fields,
                                    bool junk)
{
	struct queue_writer *w = queue_writer_open(t->q, env);
	assert_non_null(w);
	const char *c = content;
	for (size_t off = 0; off < len;) {
		size_t n = len - off < chunk ? len - off : chunk;
		assert_int_equal(queue_writer_write(w, c + off, n), 0);
		off += n;
	}
	assert_int_equal(queue_writer_tail(w, fields, out_fields, junk), 0);
	assert_int_equal(queue_writer_length(w), len); /* the tail is not content */
	assert_int_equal(queue_writer_finish(w), 0);
	assert_int_equal(queue_writer_commit(w), 0);
	assert_int_equal(queue_sync_msgdir(t->q), 0);
}

/* The content is exactly what was written; the tail's own LF follows. */
static void test_queue_check_tailed_content(const struct tq *t, const struct queue_env *env, const void *content,
                                            size_t len)
{
	assert_int_equal(env->content_len, len);
	int fd = queue_open_content(t->q, env);
	assert_true(fd >= 0);
	char *got = malloc(len + 1);
	assert_non_null(got);
	assert_int_equal(fsutil_read_all(fd, got, len + 1), (ssize_t)len + 1);
	bool same = memcmp(got, content, len) == 0 && got[len] == '\n';
	free(got);
	close(fd);
	assert_true(same);
}

static void test_queue_check_str(const char *got, const char *want)
{
	if (want == NULL || want[0] == '\0')
		assert_null(got); /* an empty value writes no record */
	else
		assert_string_equal(got, want);
}

static void test_queue_tail_round_trip(void **state)
{
	struct tq *t = *state;
	struct queue_env env;
	struct queue_rcpt rcpts[3];
	test_queue_env(&env, rcpts);
	/* several lines, '%' alone and before what looks like an escape,
	 * an "END n" and a "field" record of their own inside the value */
	static const char fields[] = "Authentication-Results: mx.example.org;\n"
	                             "\tspf=pass smtp.mailfrom=100%@example.org;\n"
	                             "\tdkim=pass header.d=%25%0A%0a%\n"
	                             "X-End: \nEND 12\nfield junk\njunk\n";
	static const char out_fields[] = "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s%1;\n"
	                                 "\tb=AbC+dEf/%%==\n";
	static const char content[] = "Subject: hi\n\nbody\n";
	static const struct {
		const char *fields, *out_fields;
		bool junk;
	} tails[] = {
		{ fields, out_fields, true },
		{ fields, NULL, false },
		{ NULL, out_fields, false },
		{ NULL, NULL, true },
		{ NULL, NULL, false }, /* a tail of one LF */
		{ "", "", false },
		{ "%", "\n", true },
		{ "\n\n\n", "%%%", false },
	};
	static const size_t chunks[] = { 1, 5, sizeof content };
	for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
		for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
			queue_new_id(env.id);
			test_queue_store_tailed(t, &env, content, sizeof content - 1, chunks[k], tails[i].fields,
			                        tails[i].out_fields, tails[i].junk);
			struct queue_env got;
			assert_int_equal(queue_load(t->q, env.id, &got), 0);
			/* the envelope before the content is untouched by the tail */
			assert_string_equal(got.sender, env.sender);
			assert_string_equal(got.helo, env.helo);
			assert_int_equal(got.nrcpts, 3);
			assert_string_equal(got.rcpts[1].addr, "\"john doe\"@example.net");
			assert_string_equal(got.rcpts[2].addr, "x%y@example.com");
			test_queue_check_str(got.fields, tails[i].fields);
			test_queue_check_str(got.out_fields, tails[i].out_fields);
			assert_int_equal(got.junk, tails[i].junk);
			test_queue_check_tailed_content(t, &got, content, sizeof content - 1);
			queue_env_free(&got);
		}
	}

	/* without a tail: nothing there */
	queue_new_id(env.id);
	test_queue_store_msg(t, &env, content, sizeof content - 1, 4);
	struct queue_env got;
	assert_int_equal(queue_load(t->q, env.id, &got), 0);
	assert_null(got.fields);
	assert_null(got.out_fields);
	assert_false(got.junk);
	test_queue_check_content(t, &got, content, sizeof content - 1);
	queue_env_free(&got);

	/* content that does not end in LF, and no content at all */
	static const char *const odd[] = { "no final LF", "ends in CR\r", "x", "" };
	for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
		queue_new_id(env.id);
		test_queue_store_tailed(t, &env, odd[i], strlen(odd[i]), 3, fields, out_fields, true);
		assert_int_equal(queue_load(t->q, env.id, &got), 0);
		assert_string_equal(got.fields, fields);
		assert_string_equal(got.out_fields, out_fields);
		assert_true(got.junk);
		test_queue_check_tailed_content(t, &got, odd[i], strlen(odd[i]));
		queue_env_free(&got);
	}

	/* the largest fields, all octets that need escaping: each tripled */
	char *big = malloc(QUEUE_TAIL_MAX + 1);
	assert_non_null(big);
	for (size_t i = 0; i < QUEUE_TAIL_MAX; i++)
		big[i] = i % 2 ? '%' : '\n';
	big[QUEUE_TAIL_MAX] = '\0';
	queue_new_id(env.id);
	test_queue_store_tailed(t, &env, content, sizeof content - 1, 7, big, big, true);
	assert_int_equal(queue_load(t->q, env.id, &got), 0);
	assert_string_equal(got.fields, big);
	assert_string_equal(got.out_fields, big);
	test_queue_check_tailed_content(t, &got, content, sizeof content - 1);
	queue_env_free(&got);
	free(big);
	assert_int_equal(test_queue_count(t, "tmp"), 0);
}

/* Every prefix of a file with a tail is refused, as for test_queue_torn. */
static void test_queue_tail_torn(void **state)
{
	struct tq *t = *state;
	struct queue_env env;
	struct queue_rcpt rcpts[3];
	test_queue_env(&env, rcpts);
	static const char content[] = "Subject: torn\n\nEND 3\nbody 12";
	test_queue_store_tailed(t, &env, content, sizeof content - 1, 9, "A: 1%\n\tEND 5\n", "B: 2\n", true);

	char path[PATH_MAX];
	test_queue_path(path, t, "msg", env.id);
	char *full;
	size_t flen;
	assert_int_equal(fsutil_read_file(path, 1 << 20, &full, &flen), 0);
	for (size_t l = 0; l <= flen; l++) {
		test_queue_write_raw(t, env.id, full, l);
		struct queue_env got;
		errno = 0;
		int r = queue_load(t->q, env.id, &got);
		if (l < flen) {
			if (r != -1 || errno != EINVAL)
				fail_msg("prefix of %zu of %zu octets loaded (r=%d errno=%d)", l, flen, r, errno);
		} else {
			assert_int_equal(r, 0);
			assert_string_equal(got.fields, "A: 1%\n\tEND 5\n");
			assert_string_equal(got.out_fields, "B: 2\n");
			assert_true(got.junk);
			test_queue_check_tailed_content(t, &got, content, sizeof content - 1);
			queue_env_free(&got);
		}
	}
	free(full);
}

static void test_queue_tail_misuse(void **state)
{
	struct tq *t = *state;
	struct queue_env env;
	struct queue_rcpt rcpts[3];
	test_queue_env(&env, rcpts);

	/* no content after the tail, no second tail */
	struct queue_writer *w = queue_writer_open(t->q, &env);
	assert_non_null(w);
	assert_int_equal(queue_writer_write(w, "abc\n", 4), 0);
	assert_int_equal(queue_writer_tail(w, "A: b\n", NULL, false), 0);
	errno = 0;
	assert_int_equal(queue_writer_write(w, "x", 1), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(queue_writer_write(w, "", 0), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(queue_writer_tail(w, NULL, NULL, true), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(queue_writer_length(w), 4);
	/* the refused calls left the file as it was */
	assert_int_equal(queue_writer_finish(w), 0);
	assert_int_equal(queue_writer_commit(w), 0);
	struct queue_env got;
	assert_int_equal(queue_load(t->q, env.id, &got), 0);
	assert_string_equal(got.fields, "A: b\n");
	assert_null(got.out_fields);
	assert_false(got.junk);
	test_queue_check_tailed_content(t, &got, "abc\n", 4);
	queue_env_free(&got);

	/* no tail after finish */
	test_queue_env(&env, rcpts);
	w = queue_writer_open(t->q, &env);
	assert_non_null(w);
	assert_int_equal(queue_writer_finish(w), 0);
	errno = 0;
	assert_int_equal(queue_writer_tail(w, "A: b\n", NULL, false), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(queue_writer_commit(w), 0);
	assert_int_equal(queue_load(t->q, env.id, &got), 0);
	assert_null(got.fields);
	queue_env_free(&got);

	/* too long, or a CR (the reader's line ends are LF): refused, and
	 * the writer still takes content and a proper tail afterwards */
	char *big = malloc(QUEUE_TAIL_MAX + 2);
	assert_non_null(big);
	memset(big, 'a', QUEUE_TAIL_MAX + 1);
	big[QUEUE_TAIL_MAX + 1] = '\0';
	test_queue_env(&env, rcpts);
	w = queue_writer_open(t->q, &env);
	assert_non_null(w);
	errno = 0;
	assert_int_equal(queue_writer_tail(w, big, NULL, false), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(queue_writer_tail(w, NULL, big, false), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(queue_writer_tail(w, "A: b\r\n", NULL, false), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(queue_writer_tail(w, NULL, "A: b\r", false), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(queue_writer_write(w, "more", 4), 0);
	assert_int_equal(queue_writer_tail(w, NULL, NULL, true), 0);
	assert_int_equal(queue_writer_finish(w), 0);
	assert_int_equal(queue_writer_commit(w), 0);
	assert_int_equal(queue_load(t->q, env.id, &got), 0);
	assert_null(got.fields);
	assert_true(got.junk);
	test_queue_check_tailed_content(t, &got, "more", 4);
	queue_env_free(&got);
	free(big);
	assert_int_equal(test_queue_count(t, "tmp"), 0);
}

/* Write fmt (its %s the id) as msg/ID and load it. */
static int test_queue_load_made(const struct tq *t, const char *id, const char *fmt, struct queue_env *got)
{
	char buf[1024];
	int n = snprintf(buf, sizeof buf, fmt, id);
	assert_true(n > 0 && (size_t)n < sizeof buf);
	test_queue_write_raw(t, id, buf, (size_t)n);
	errno = 0;
	return queue_load(t->q, id, got);
}

/* Format 1, as versions before the tail wrote it, still loads; with
 * anything between its content and END it is refused. */
static void test_queue_format1(void **state)
{
	struct tq *t = *state;
	char id[QUEUE_ID_MAX];
	queue_new_id(id);
	struct queue_env got;
	assert_int_equal(test_queue_load_made(t, id,
	                                      "tern-queue 1\nid %s\narrival 1700000000\nsender a@b\n"
	                                      "helo mail.example.org x\nclient 192.0.2.1\nauth alice\nsmtputf8\n8bit\n"
	                                      "rcpt \"j%%20d\"@e rfc822;\"j d\"@e\nrcpt f@g f@g\n"
	                                      "content\nSubject: x\n\nbody\nEND 17\n",
	                                      &got),
	                 0);
	assert_int_equal(got.arrival, 1700000000);
	assert_string_equal(got.sender, "a@b");
	assert_string_equal(got.helo, "mail.example.org x");
	assert_string_equal(got.client, "192.0.2.1");
	assert_string_equal(got.auth_user, "alice");
	assert_true(got.smtputf8);
	assert_true(got.eightbit);
	assert_int_equal(got.nrcpts, 2);
	assert_string_equal(got.rcpts[0].addr, "\"j d\"@e");
	assert_string_equal(got.rcpts[0].orcpt, "rfc822;\"j d\"@e");
	assert_string_equal(got.rcpts[1].addr, "f@g");
	assert_null(got.fields);
	assert_null(got.out_fields);
	assert_false(got.junk);
	test_queue_check_content(t, &got, "Subject: x\n\nbody\n", 17);
	queue_env_free(&got);

	/* its content may hold what looks like tail records */
	assert_int_equal(test_queue_load_made(t, id,
	                                      "tern-queue 1\nid %s\narrival 5\nsender a@b\nrcpt c@d c@d\n"
	                                      "content\nhi\nfield a\njunk\nEND 16\n",
	                                      &got),
	                 0);
	assert_null(got.fields);
	assert_false(got.junk);
	test_queue_check_content(t, &got, "hi\nfield a\njunk\n", 16);
	queue_env_free(&got);

	static const char *const bad[] = {
		"tern-queue 1\nid %s\narrival 5\nsender a@b\nrcpt c@d c@d\ncontent\nhi\nEND 2\n",
		"tern-queue 1\nid %s\narrival 5\nsender a@b\nrcpt c@d c@d\ncontent\nhi\nfield a\nEND 2\n",
		"tern-queue 1\nid %s\narrival 5\nsender a@b\nrcpt c@d c@d\ncontent\nhi\njunk\nEND 2\n",
		"tern-queue 1\nid %s\narrival 5\nsender a@b\nrcpt c@d c@d\ncontent\nhixEND 2\n",
		"tern-queue 1\nid %s\narrival 5\nsender a@b\nrcpt c@d c@d\ncontent\nEND 0\n\nEND 0\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (test_queue_load_made(t, id, bad[i], &got) != -1 || errno != EINVAL)
			fail_msg("format-1 file %zu with octets after its content loaded", i);
	}
}

/* Hand-made format-2 files: good tails load, bad ones are refused. */
static void test_queue_tail_invalid(void **state)
{
	struct tq *t = *state;
	char id[QUEUE_ID_MAX];
	queue_new_id(id);
	const char *head = "tern-queue 2\nid %s\narrival 5\nsender a@b\nrcpt c@d c@d\ncontent\n";

	static const struct {
		const char *tail, *fields, *out_fields;
		bool junk;
	} good[] = {
		{ "hiEND 2\n", NULL, NULL, false },
		{ "hi\nEND 2\n", NULL, NULL, false },
		{ "hi\nfield a%%0Ab\nEND 2\n", "a\nb", NULL, false },
		{ "hi\nfield %%25%%0A\nfield-out %%25\njunk\nEND 2\n", "%\n", "%", true },
		/* in any order */
		{ "hi\njunk\nfield-out x y\nfield z\nEND 2\n", "z", "x y", true },
		{ "\nfield a\nEND 0\n", "a", NULL, false },
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		char fmt[512];
		snprintf(fmt, sizeof fmt, "%s%s", head, good[i].tail);
		struct queue_env got;
		if (test_queue_load_made(t, id, fmt, &got) != 0)
			fail_msg("good tail %zu refused (errno %d)", i, errno);
		test_queue_check_str(got.fields, good[i].fields);
		test_queue_check_str(got.out_fields, good[i].out_fields);
		assert_int_equal(got.junk, good[i].junk);
		queue_env_free(&got);
	}

	/* Each bad tail twice: as the last record before END, and with a
	 * good record after it (a check must not depend on its place). All
	 * are tried before the test fails, to show every case that loads. */
	int wrong = 0;
	static const char *const bad[] = {
		"bogus",               /* unknown record */
		"",                    /* empty line */
		"Field a",             /* keys are exact */
		"field",               /* a field without its value */
		"field ",              /* empty: the writer puts no record */
		"junk x",              /* a flag with a value */
		"field a\nfield b",    /* repeated */
		"field-out a\nfield-out b",
		"junk\njunk",
		"field a%%0B",         /* escapes: only %25 and %0A */
		"field a%%2",
		"field a%%",
		"field a%%0a",
		"field a%%20",
		"field a%%zz",
		"field A: b\r",       /* CR: never written, so never read */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		for (int after = 0; after < 2; after++) {
			char fmt[512];
			snprintf(fmt, sizeof fmt, "%shi\n%s\n%sEND 2\n", head, bad[i],
			         after ? "field-out last\n" : "");
			struct queue_env got;
			if (test_queue_load_made(t, id, fmt, &got) != -1 || errno != EINVAL) {
				print_message("bad tail \"%s\" (%s) loaded\n", bad[i], after ? "not last" : "last");
				queue_env_free(&got);
				wrong++;
			}
		}
	}

	/* the shape of the tail itself */
	static const char *const shape[] = {
		"hifield a\nEND 2\n",          /* no LF to close the content */
		"hijunk\nEND 2\n",
		"hi\nfield aEND 2\n",          /* a record without its LF */
		"hi\njunkEND 2\n",
		"hi\n\nEND 2\n",               /* an empty record */
		"hi\nfield a\n\nEND 2\n",
		"hi\nfield a\nEND 3\n",        /* END counts wrongly */
		"hi\nfield a\nEND 20\n",
	};
	for (size_t i = 0; i < sizeof shape / sizeof shape[0]; i++) {
		char fmt[512];
		snprintf(fmt, sizeof fmt, "%s%s", head, shape[i]);
		struct queue_env got;
		if (test_queue_load_made(t, id, fmt, &got) != -1 || errno != EINVAL) {
			print_message("tail shape %zu loaded\n", i);
			queue_env_free(&got);
			wrong++;
		}
	}
	assert_int_equal(wrong, 0);
	/* a real NUL inside a field record */
	char raw[512];
	int n = snprintf(raw, sizeof raw, "tern-queue 2\nid %s\narrival 5\nsender a@b\nrcpt c@d c@d\ncontent\n"
	                 "hi\nfield a#b\nEND 2\n", id);
	assert_true(n > 0 && (size_t)n < sizeof raw);
	*strchr(raw, '#') = '\0';
	test_queue_write_raw(t, id, raw, (size_t)n);
	struct queue_env got;
	errno = 0;
	assert_int_equal(queue_load(t->q, id, &got), -1);
	assert_int_equal(errno, EINVAL);

	/* a tail far longer than any writer makes */
	size_t big = 7 * (size_t)QUEUE_TAIL_MAX;
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(buf_printf(&b, "tern-queue 2\nid %s\narrival 5\nsender a@b\nrcpt c@d c@d\ncontent\n"
	                            "hi\nfield ", id), 0);
	for (size_t i = 0; i < big; i++)
		assert_int_equal(buf_putc(&b, 'a'), 0);
	assert_int_equal(buf_puts(&b, "\nEND 2\n"), 0);
	test_queue_write_raw(t, id, b.data, b.len);
	errno = 0;
	assert_int_equal(queue_load(t->q, id, &got), -1);
	assert_int_equal(errno, EINVAL);
	buf_free(&b);
}

/* queue_env_dup copies the tail; the copy outlives the original. */
static void test_queue_tail_dup(void **state)
{
	struct tq *t = *state;
	struct queue_env env;
	struct queue_rcpt rcpts[3];
	test_queue_env(&env, rcpts);
	env.fields = "A: 1\n\tcont%\n";
	env.out_fields = "B: 2\n";
	env.junk = true;
	struct queue_env d;
	assert_int_equal(queue_env_dup(&d, &env), 0);
	assert_string_equal(d.fields, env.fields);
	assert_string_equal(d.out_fields, env.out_fields);
	assert_true(d.fields != env.fields && d.out_fields != env.out_fields);
	assert_true(d.junk);
	queue_env_free(&d);

	/* none: stays none */
	env.fields = env.out_fields = NULL;
	env.junk = false;
	assert_int_equal(queue_env_dup(&d, &env), 0);
	assert_null(d.fields);
	assert_null(d.out_fields);
	assert_false(d.junk);
	queue_env_free(&d);

	/* from a loaded envelope, which is then freed */
	test_queue_store_tailed(t, &env, "x\n", 2, 2, "F: 1\n", "G: 2\n", true);
	struct queue_env got;
	assert_int_equal(queue_load(t->q, env.id, &got), 0);
	assert_int_equal(queue_env_dup(&d, &got), 0);
	queue_env_free(&got);
	assert_string_equal(d.fields, "F: 1\n");
	assert_string_equal(d.out_fields, "G: 2\n");
	assert_true(d.junk);
	assert_int_equal(d.content_len, 2);
	test_queue_check_tailed_content(t, &d, "x\n", 2);
	queue_env_free(&d);
}

/* A recycled file that held a long message takes a short one with a
 * tail: the old octets after it must not read as more tail. */
static void test_queue_tail_recycled(void **state)
{
	struct tq *t = *state;
	struct queue_env env;
	struct queue_rcpt rcpts[3];
	test_queue_env(&env, rcpts);
	static char big[100000];
	memset(big, '\n', sizeof big);
	test_queue_store_tailed(t, &env, big, sizeof big, 4096, "A: 1\n", "B: 2\n", true);
	assert_int_equal(queue_remove(t->q, env.id), 0);
	assert_int_equal(test_queue_count(t, "free"), 1);

	struct queue_env small;
	struct queue_rcpt r2[3];
	test_queue_env(&small, r2);
	test_queue_store_tailed(t, &small, "short", 5, 5, "C: 3\n", NULL, false);
	assert_int_equal(test_queue_count(t, "free"), 0); /* taken from the pool */
	struct queue_env got;
	assert_int_equal(queue_load(t->q, small.id, &got), 0);
	assert_string_equal(got.fields, "C: 3\n");
	assert_null(got.out_fields);
	assert_false(got.junk);
	test_queue_check_tailed_content(t, &got, "short", 5);
	queue_env_free(&got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_queue_round_trip, test_queue_setup,
		                                test_queue_teardown),
		cmocka_unit_test_setup_teardown(test_queue_minimal_env, test_queue_setup,
		                                test_queue_teardown),
		cmocka_unit_test_setup_teardown(test_queue_forged_envelope, test_queue_setup,
		                                test_queue_teardown),
		cmocka_unit_test_setup_teardown(test_queue_torn, test_queue_setup,
		                                test_queue_teardown),
		cmocka_unit_test_setup_teardown(test_queue_invalid_files, test_queue_setup,
		                                test_queue_teardown),
		cmocka_unit_test_setup_teardown(test_queue_writer_misuse, test_queue_setup,
		                                test_queue_teardown),
		cmocka_unit_test_setup_teardown(test_queue_state_log, test_queue_setup,
		                                test_queue_teardown),
		cmocka_unit_test_setup_teardown(test_queue_recover, test_queue_setup,
		                                test_queue_teardown),
		cmocka_unit_test_setup_teardown(test_queue_recover_fresh, test_queue_setup,
		                                test_queue_teardown),
		cmocka_unit_test_setup_teardown(test_queue_kill9, test_queue_setup,
		                                test_queue_teardown),
		cmocka_unit_test_setup_teardown(test_queue_recycled_files, test_queue_setup,
		                                test_queue_teardown),
		cmocka_unit_test_setup_teardown(test_queue_ids, test_queue_setup,
		                                test_queue_teardown),
		cmocka_unit_test_setup_teardown(test_queue_fsutil, test_queue_setup,
		                                test_queue_teardown),
		cmocka_unit_test_setup_teardown(test_queue_tail_round_trip, test_queue_setup,
		                                test_queue_teardown),
		cmocka_unit_test_setup_teardown(test_queue_tail_torn, test_queue_setup,
		                                test_queue_teardown),
		cmocka_unit_test_setup_teardown(test_queue_tail_misuse, test_queue_setup,
		                                test_queue_teardown),
		cmocka_unit_test_setup_teardown(test_queue_format1, test_queue_setup,
		                                test_queue_teardown),
		cmocka_unit_test_setup_teardown(test_queue_tail_invalid, test_queue_setup,
		                                test_queue_teardown),
		cmocka_unit_test_setup_teardown(test_queue_tail_dup, test_queue_setup,
		                                test_queue_teardown),
		cmocka_unit_test_setup_teardown(test_queue_tail_recycled, test_queue_setup,
		                                test_queue_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
