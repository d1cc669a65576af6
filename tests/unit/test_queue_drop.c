/*
 * test_queue_drop — the drop area of `tern sendmail` against a real file
 * system in a fresh data-dir per test: the writer/reader round trip, the
 * writer's refusal of forged envelope values, and the reader's refusal of
 * every kind of hostile file a local user can leave there (links, FIFOs,
 * directories, foreign records, lying trailers, every truncation, sizes
 * over the limits), plus listing, quarantine and the directory modes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/log.h"
#include "queue/queue_drop.h"
#include "queue/queue_store.h"

#define TQD_MAX 100000 /* max content for the reader in these tests */

struct tqd {
	char dir[64];
	char path[PATH_MAX];
};

static int test_queue_drop_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int test_queue_drop_setup(void **state)
{
	struct tqd *t = calloc(1, sizeof *t);
	assert_non_null(t);
	snprintf(t->dir, sizeof t->dir, "/tmp/tern-tqd-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	struct queue *q = queue_open(t->dir);
	assert_non_null(q);
	assert_int_equal(queue_init_dirs(q), 0);
	queue_close(q);
	log_set_quiet(1);
	*state = t;
	return 0;
}

static int test_queue_drop_teardown(void **state)
{
	struct tqd *t = *state;
	nftw(t->dir, test_queue_drop_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return 0;
}

/* drop/NAME */
static const char *test_queue_drop_path(struct tqd *t, const char *name)
{
	snprintf(t->path, sizeof t->path, "%s/queue/drop/%s", t->dir, name);
	return t->path;
}

/* Put raw bytes at drop/NAME with the given mode, as a hostile user would. */
static void test_queue_drop_raw(struct tqd *t, const char *name, const char *data, size_t n, mode_t mode)
{
	const char *p = test_queue_drop_path(t, name);
	unlink(p);
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fsutil_write_all(fd, data, n), 0);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* queue_drop_open's errno on drop/NAME, or 0 when it was accepted. */
static int test_queue_drop_open_errno(struct tqd *t, const char *name, uint64_t max)
{
	struct queue_drop d;
	int r = queue_drop_open(t->dir, name, max, &d);
	int e = errno;
	if (r == 0) {
		queue_drop_close(&d);
		return 0;
	}
	assert_int_equal(d.fd, -1);
	return e;
}

static void test_queue_drop_raw_str(struct tqd *t, const char *name, const char *s)
{
	test_queue_drop_raw(t, name, s, strlen(s), 0640);
}

static const char test_queue_drop_good[] = "tern-drop 1\nsender a@example.org\nrcpt b@example.test\ncontent\n"
                                           "Subject: x\n\nhi\nEND 15\n";

/* ------------------------------------------------------------ round trip */

static char *test_queue_drop_write(struct tqd *t, const char *sender, char *const *rcpts, size_t n,
                                   const char *content, char name[QUEUE_ID_MAX])
{
	struct queue_drop_writer *w = queue_drop_writer_open(t->dir, sender, rcpts, n);
	assert_non_null(w);
	const char *tmp = queue_drop_writer_tmp_path(w);
	assert_non_null(strstr(tmp, "/queue/drop/."));
	assert_int_equal(queue_drop_writer_write(w, content, strlen(content)), 0);
	assert_int_equal(queue_drop_writer_length(w), strlen(content));
	assert_int_equal(queue_drop_writer_commit(w, name), 0);
	assert_true(queue_id_is_valid(name));
	return name;
}

static void test_queue_drop_round_trip(void **state)
{
	struct tqd *t = *state;
	char *rcpts[] = {"bob@example.test", "\"a b\"@example.test", "j\xc3\xa9@example.test"};
	const char *content = "From: a@example.org\nSubject: test\n\nline 1\n.\n..\nEND 3\n";
	char name[QUEUE_ID_MAX];
	test_queue_drop_write(t, "alice@example.org", rcpts, 3, content, name);

	struct stat st;
	assert_int_equal(stat(test_queue_drop_path(t, name), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);

	char **names;
	size_t n;
	assert_int_equal(queue_drop_list(t->dir, 10, &names, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], name);
	queue_ids_free(names, n);

	struct queue_drop d;
	assert_int_equal(queue_drop_open(t->dir, name, TQD_MAX, &d), 0);
	assert_string_equal(d.sender, "alice@example.org");
	assert_int_equal(d.nrcpts, 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(d.rcpts[i], rcpts[i]);
	assert_int_equal(d.uid, getuid());
	assert_int_equal(d.content_len, strlen(content));
	char got[256];
	/* The fd is at the content; the trailer follows it. */
	assert_int_equal(fsutil_read_all(d.fd, got, d.content_len), (ssize_t)strlen(content));
	assert_memory_equal(got, content, strlen(content));

	assert_int_equal(queue_drop_unlink(t->dir, name, &d), 0);
	assert_int_equal(queue_drop_sync(t->dir), 0);
	queue_drop_close(&d);
	assert_int_equal(queue_drop_list(t->dir, 10, &names, &n), 0);
	assert_int_equal(n, 0);
	queue_ids_free(names, n);
}

static void test_queue_drop_null_sender_and_empty(void **state)
{
	struct tqd *t = *state;
	char *rcpts[] = {"bob@example.test"};
	char name[QUEUE_ID_MAX];
	test_queue_drop_write(t, "", rcpts, 1, "", name);
	struct queue_drop d;
	assert_int_equal(queue_drop_open(t->dir, name, TQD_MAX, &d), 0);
	assert_string_equal(d.sender, "");
	assert_int_equal(d.content_len, 0);
	queue_drop_close(&d);
}

static void test_queue_drop_writer_refuses(void **state)
{
	struct tqd *t = *state;
	char *crlf[] = {"bob@example.test\nrcpt evil@example.org"};
	char *empty[] = {""};
	char *ok[] = {"bob@example.test"};
	char *ctl[] = {"bo\x1b" "b@example.test"};
	errno = 0;
	assert_null(queue_drop_writer_open(t->dir, "a@b", crlf, 1));
	assert_int_equal(errno, EINVAL);
	assert_null(queue_drop_writer_open(t->dir, "a@b", empty, 1));
	assert_null(queue_drop_writer_open(t->dir, "a@b", ctl, 1));
	assert_null(queue_drop_writer_open(t->dir, "a@b\r\nrcpt x@y", ok, 1));
	assert_null(queue_drop_writer_open(t->dir, "a@b", ok, 0));
	char **many = calloc(QUEUE_DROP_RCPTS_MAX + 1, sizeof *many);
	assert_non_null(many);
	for (size_t i = 0; i <= QUEUE_DROP_RCPTS_MAX; i++)
		many[i] = "x@example.test";
	assert_null(queue_drop_writer_open(t->dir, "a@b", many, QUEUE_DROP_RCPTS_MAX + 1));
	free(many);
	char big[QUEUE_DROP_ADDR_MAX + 2];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	char *bigv[] = {big};
	assert_null(queue_drop_writer_open(t->dir, "a@b", bigv, 1));
	/* Nothing was left behind. */
	char **names;
	size_t n;
	assert_int_equal(queue_drop_list(t->dir, 10, &names, &n), 0);
	assert_int_equal(n, 0);
	queue_ids_free(names, n);
}

static void test_queue_drop_abort_removes_tmp(void **state)
{
	struct tqd *t = *state;
	char *rcpts[] = {"bob@example.test"};
	struct queue_drop_writer *w = queue_drop_writer_open(t->dir, "a@b", rcpts, 1);
	assert_non_null(w);
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s", queue_drop_writer_tmp_path(w));
	assert_int_equal(access(tmp, F_OK), 0);
	queue_drop_writer_abort(w);
	assert_int_equal(access(tmp, F_OK), -1);
	queue_drop_writer_abort(NULL);
}

/* ------------------------------------------------------------ hostile files */

static void test_queue_drop_good_file_accepted(void **state)
{
	struct tqd *t = *state;
	test_queue_drop_raw_str(t, "AAAA1", test_queue_drop_good);
	assert_int_equal(test_queue_drop_open_errno(t, "AAAA1", TQD_MAX), 0);
	/* Content larger than the reader's limit. */
	assert_int_equal(test_queue_drop_open_errno(t, "AAAA1", 14), EFBIG);
	assert_int_equal(test_queue_drop_open_errno(t, "AAAA1", 15), 0);
}

static void test_queue_drop_refuses_links_and_specials(void **state)
{
	struct tqd *t = *state;
	/* A symbolic link to a valid drop file elsewhere (think /etc/shadow). */
	char target[PATH_MAX];
	snprintf(target, sizeof target, "%s/outside", t->dir);
	FILE *f = fopen(target, "w");
	assert_non_null(f);
	fputs(test_queue_drop_good, f);
	fclose(f);
	assert_int_equal(symlink(target, test_queue_drop_path(t, "LINK1")), 0);
	assert_int_equal(test_queue_drop_open_errno(t, "LINK1", TQD_MAX), EINVAL);
	/* A hard link: two names, so not the user's own fresh file. */
	assert_int_equal(link(target, test_queue_drop_path(t, "HARD1")), 0);
	assert_int_equal(test_queue_drop_open_errno(t, "HARD1", TQD_MAX), EINVAL);
	/* A FIFO must be refused without blocking. */
	assert_int_equal(mkfifo(test_queue_drop_path(t, "FIFO1"), 0640), 0);
	assert_int_equal(test_queue_drop_open_errno(t, "FIFO1", TQD_MAX), EINVAL);
	/* A directory. */
	assert_int_equal(mkdir(test_queue_drop_path(t, "DIR1"), 0700), 0);
	assert_int_equal(test_queue_drop_open_errno(t, "DIR1", TQD_MAX), EINVAL);
	/* Writable by others: its text may not be its owner's. */
	test_queue_drop_raw(t, "OPEN1", test_queue_drop_good, strlen(test_queue_drop_good), 0666);
	assert_int_equal(test_queue_drop_open_errno(t, "OPEN1", TQD_MAX), EINVAL);
	test_queue_drop_raw(t, "OPEN2", test_queue_drop_good, strlen(test_queue_drop_good), 0660);
	assert_int_equal(test_queue_drop_open_errno(t, "OPEN2", TQD_MAX), EINVAL);
	/* Names that are not ids are never opened, whatever they hold. */
	assert_int_equal(test_queue_drop_open_errno(t, "../msg/x", TQD_MAX), EINVAL);
	assert_int_equal(test_queue_drop_open_errno(t, ".AAAA1", TQD_MAX), EINVAL);
	assert_int_equal(test_queue_drop_open_errno(t, "NOSUCH1", TQD_MAX), ENOENT);
}

static void test_queue_drop_refuses_bad_format(void **state)
{
	struct tqd *t = *state;
	static const char *const bad[] = {
		"",
		"tern-drop 2\nsender a@b\nrcpt c@d\ncontent\nEND 0\n",                   /* version */
		"tern-queue 1\nsender a@b\nrcpt c@d\ncontent\nEND 0\n",                  /* another format */
		"tern-drop 1\nrcpt c@d\nsender a@b\ncontent\nEND 0\n",                   /* rcpt before sender */
		"tern-drop 1\nsender a@b\nsender e@f\nrcpt c@d\ncontent\nEND 0\n",       /* two senders */
		"tern-drop 1\nsender a@b\ncontent\nEND 0\n",                             /* no recipient */
		"tern-drop 1\nrcpt c@d\ncontent\nEND 0\n",                               /* no sender */
		"tern-drop 1\nsender a@b\nrcpt c@d\nuid 0\ncontent\nEND 0\n",            /* unknown record */
		"tern-drop 1\nsender a@b\nrcpt \ncontent\nEND 0\n",                      /* empty rcpt */
		"tern-drop 1\nsender a@b\nrcpt c\x01@d\ncontent\nEND 0\n",               /* control octet */
		"tern-drop 1\nsender a@b\nrcpt c@d\r\ncontent\nEND 0\n",                 /* CR */
		"tern-drop 1\nsender a@b\nrcpt c@d\ncontent\n",                          /* no trailer */
		"tern-drop 1\nsender a@b\nrcpt c@d\ncontent\nhi\nEND 2\n",               /* lying length */
		"tern-drop 1\nsender a@b\nrcpt c@d\ncontent\nhi\nEND 03\n",              /* leading zero */
		"tern-drop 1\nsender a@b\nrcpt c@d\ncontent\nhi\nEND 3",                 /* no final LF */
		"tern-drop 1\nsender a@b\nrcpt c@d\ncontent\nhi\nEND -3\n",              /* sign */
		"tern-drop 1\nsender a@b\nrcpt c@d\ncontent x\nEND 0\n",                 /* content with a value */
		"tern-drop 1\nsender a@b\nrcpt c@d\n",                                   /* torn envelope */
		"tern-drop 1 \nsender a@b\nrcpt c@d\ncontent\nEND 0\n",                  /* magic with a blank */
	};
	char name[16];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(name, sizeof name, "BAD%zu", i);
		test_queue_drop_raw_str(t, name, bad[i]);
		int e = test_queue_drop_open_errno(t, name, TQD_MAX);
		if (e != EINVAL)
			fail_msg("case %zu accepted or wrong errno %d: %s", i, e, bad[i]);
	}
	/* A NUL inside an envelope line. */
	static const char nul[] = "tern-drop 1\nsender a@b\nrcpt c@d\0x\ncontent\nEND 0\n";
	test_queue_drop_raw(t, "NUL1", nul, sizeof nul - 1, 0640);
	assert_int_equal(test_queue_drop_open_errno(t, "NUL1", TQD_MAX), EINVAL);
}

static void test_queue_drop_every_truncation_refused(void **state)
{
	struct tqd *t = *state;
	size_t n = strlen(test_queue_drop_good);
	for (size_t len = 0; len < n; len++) {
		test_queue_drop_raw(t, "TRUNC1", test_queue_drop_good, len, 0640);
		int e = test_queue_drop_open_errno(t, "TRUNC1", TQD_MAX);
		if (e != EINVAL)
			fail_msg("a file cut at %zu of %zu octets gave %d", len, n, e);
	}
}

static void test_queue_drop_refuses_oversized_envelope(void **state)
{
	struct tqd *t = *state;
	/* Too many recipients. */
	size_t cap = 64 + (size_t)(QUEUE_DROP_RCPTS_MAX + 1) * 20;
	char *s = malloc(cap);
	assert_non_null(s);
	size_t len = (size_t)snprintf(s, cap, "tern-drop 1\nsender a@b\n");
	for (size_t i = 0; i <= QUEUE_DROP_RCPTS_MAX; i++)
		len += (size_t)snprintf(s + len, cap - len, "rcpt r%zu@d\n", i);
	len += (size_t)snprintf(s + len, cap - len, "content\nEND 0\n");
	test_queue_drop_raw(t, "MANY1", s, len, 0640);
	assert_int_equal(test_queue_drop_open_errno(t, "MANY1", TQD_MAX), EINVAL);
	free(s);
	/* An address over the limit, and a line over the line cap. */
	size_t big = 10000;
	s = malloc(big + 128);
	assert_non_null(s);
	len = (size_t)snprintf(s, big + 128, "tern-drop 1\nsender a@b\nrcpt ");
	memset(s + len, 'x', QUEUE_DROP_ADDR_MAX + 1);
	len += QUEUE_DROP_ADDR_MAX + 1;
	len += (size_t)snprintf(s + len, big + 128 - len, "@d\ncontent\nEND 0\n");
	test_queue_drop_raw(t, "LONG1", s, len, 0640);
	assert_int_equal(test_queue_drop_open_errno(t, "LONG1", TQD_MAX), EINVAL);
	len = (size_t)snprintf(s, big + 128, "tern-drop 1\nsender ");
	memset(s + len, 'y', big);
	len += big;
	len += (size_t)snprintf(s + len, 128, "\nrcpt c@d\ncontent\nEND 0\n");
	test_queue_drop_raw(t, "LONG2", s, len, 0640);
	assert_int_equal(test_queue_drop_open_errno(t, "LONG2", TQD_MAX), EINVAL);
	free(s);
}

/* ------------------------------------------------------------ list, quarantine, modes */

static void test_queue_drop_list_cleans(void **state)
{
	struct tqd *t = *state;
	test_queue_drop_raw_str(t, "ZZZ9", test_queue_drop_good);
	test_queue_drop_raw_str(t, "AAA1", test_queue_drop_good);
	test_queue_drop_raw_str(t, ".FRESH1", "partial");
	test_queue_drop_raw_str(t, ".OLD1", "partial");
	test_queue_drop_raw_str(t, "not-an-id", "junk");
	struct timespec old[2] = {{.tv_sec = time(NULL) - 8 * 24 * 3600}, {.tv_sec = time(NULL) - 8 * 24 * 3600}};
	assert_int_equal(utimensat(AT_FDCWD, test_queue_drop_path(t, ".OLD1"), old, 0), 0);

	char **names;
	size_t n;
	assert_int_equal(queue_drop_list(t->dir, 1, &names, &n), 0);
	assert_int_equal(n, 1); /* the batch limit keeps the oldest */
	assert_string_equal(names[0], "AAA1");
	queue_ids_free(names, n);
	assert_int_equal(access(test_queue_drop_path(t, ".FRESH1"), F_OK), 0); /* a writer may be busy */
	assert_int_equal(access(test_queue_drop_path(t, ".OLD1"), F_OK), -1);  /* stale: gone */
	assert_int_equal(access(test_queue_drop_path(t, "not-an-id"), F_OK), -1);
	char corrupt[PATH_MAX];
	snprintf(corrupt, sizeof corrupt, "%s/queue/corrupt", t->dir);
	struct stat st;
	assert_int_equal(stat(corrupt, &st), 0);
	assert_int_equal(st.st_nlink, 2); /* no subdirectory */
	assert_int_equal(queue_drop_list(t->dir, 10, &names, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "AAA1");
	assert_string_equal(names[1], "ZZZ9");
	queue_ids_free(names, n);
}

static void test_queue_drop_quarantine_and_stale_unlink(void **state)
{
	struct tqd *t = *state;
	test_queue_drop_raw_str(t, "QQQ1", test_queue_drop_good);
	char moved[QUEUE_ID_MAX + 8], path[PATH_MAX];
	assert_int_equal(queue_drop_quarantine(t->dir, "QQQ1", moved, sizeof moved), 0);
	assert_int_equal(strncmp(moved, "drop-", 5), 0);
	snprintf(path, sizeof path, "%s/queue/corrupt/%s", t->dir, moved);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(access(test_queue_drop_path(t, "QQQ1"), F_OK), -1);

	/* The file read is replaced before the unlink: the new one stays. */
	test_queue_drop_raw_str(t, "REP1", test_queue_drop_good);
	struct queue_drop d;
	assert_int_equal(queue_drop_open(t->dir, "REP1", TQD_MAX, &d), 0);
	test_queue_drop_raw_str(t, "REP1", test_queue_drop_good);
	assert_int_equal(queue_drop_unlink(t->dir, "REP1", &d), -1);
	assert_int_equal(errno, ESTALE);
	assert_int_equal(access(test_queue_drop_path(t, "REP1"), F_OK), 0);
	queue_drop_close(&d);
	queue_drop_close(NULL);
}

static void test_queue_drop_setup_modes(void **state)
{
	struct tqd *t = *state;
	char path[PATH_MAX];
	assert_int_equal(chmod(t->dir, 0700), 0);
	assert_int_equal(queue_drop_setup(t->dir), 0);
	struct stat st;
	assert_int_equal(stat(t->dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0711);
	snprintf(path, sizeof path, "%s/queue", t->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0711);
	snprintf(path, sizeof path, "%s/queue/drop", t->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 03733);
	snprintf(path, sizeof path, "%s/queue/msg", t->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	/* A file written now inherits the directory's group (setgid). */
	char *rcpts[] = {"bob@example.test"};
	char name[QUEUE_ID_MAX];
	test_queue_drop_write(t, "a@b", rcpts, 1, "x\n", name);
	struct stat fst, dst;
	assert_int_equal(stat(test_queue_drop_path(t, name), &fst), 0);
	assert_int_equal(stat(path, &dst), 0);
	assert_int_equal(fst.st_gid, dst.st_gid);
	assert_int_equal(fst.st_mode & 07777, 0640);
}

static void test_queue_drop_ensure_dir(void **state)
{
	struct tqd *t = *state;
	char fresh[128], path[PATH_MAX];
	snprintf(fresh, sizeof fresh, "%s/new-data", t->dir);
	assert_int_equal(queue_drop_ensure_dir(fresh), 0);
	snprintf(path, sizeof path, "%s/queue/drop", fresh);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(queue_drop_ensure_dir(fresh), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_queue_drop_round_trip, test_queue_drop_setup, test_queue_drop_teardown),
		cmocka_unit_test_setup_teardown(test_queue_drop_null_sender_and_empty, test_queue_drop_setup,
		                                test_queue_drop_teardown),
		cmocka_unit_test_setup_teardown(test_queue_drop_writer_refuses, test_queue_drop_setup,
		                                test_queue_drop_teardown),
		cmocka_unit_test_setup_teardown(test_queue_drop_abort_removes_tmp, test_queue_drop_setup,
		                                test_queue_drop_teardown),
		cmocka_unit_test_setup_teardown(test_queue_drop_good_file_accepted, test_queue_drop_setup,
		                                test_queue_drop_teardown),
		cmocka_unit_test_setup_teardown(test_queue_drop_refuses_links_and_specials, test_queue_drop_setup,
		                                test_queue_drop_teardown),
		cmocka_unit_test_setup_teardown(test_queue_drop_refuses_bad_format, test_queue_drop_setup,
		                                test_queue_drop_teardown),
		cmocka_unit_test_setup_teardown(test_queue_drop_every_truncation_refused, test_queue_drop_setup,
		                                test_queue_drop_teardown),
		cmocka_unit_test_setup_teardown(test_queue_drop_refuses_oversized_envelope, test_queue_drop_setup,
		                                test_queue_drop_teardown),
		cmocka_unit_test_setup_teardown(test_queue_drop_list_cleans, test_queue_drop_setup, test_queue_drop_teardown),
		cmocka_unit_test_setup_teardown(test_queue_drop_quarantine_and_stale_unlink, test_queue_drop_setup,
		                                test_queue_drop_teardown),
		cmocka_unit_test_setup_teardown(test_queue_drop_setup_modes, test_queue_drop_setup, test_queue_drop_teardown),
		cmocka_unit_test_setup_teardown(test_queue_drop_ensure_dir, test_queue_drop_setup, test_queue_drop_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
