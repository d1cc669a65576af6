/*
 * test_maildir — Maildir delivery into a fresh temporary data-dir per
 * test: the bytes and name of the delivered file, the mailbox made on
 * first use, refusal of unsafe names, and clean-up on every failure
 * (short content, a file-size limit standing in for a full disk).
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
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "mta/maildir.h"

#define TEST_MAILDIR_PREFIX "Return-Path: <alice@example.org>\nDelivered-To: bob@example.org\n"

struct tm_state {
	char dir[64];
	char content_path[PATH_MAX];
};

static int test_maildir_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int test_maildir_setup(void **state)
{
	struct tm_state *t = calloc(1, sizeof *t);
	assert_non_null(t);
	snprintf(t->dir, sizeof t->dir, "/tmp/tern-tm-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->content_path, sizeof t->content_path, "%s/content", t->dir);
	*state = t;
	return 0;
}

static int test_maildir_teardown(void **state)
{
	struct tm_state *t = *state;
	nftw(t->dir, test_maildir_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return 0;
}

static void test_maildir_fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (unsigned char)(seed >> 16);
	}
}

/* A file holding 10 octets of something else, then the content, then
 * more junk — as a queue file does; returns an fd at the content. */
static int test_maildir_content_fd(const struct tm_state *t, const void *content, size_t len)
{
	int fd = open(t->content_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fsutil_write_all(fd, "HEADERJUNK", 10), 0);
	assert_int_equal(fsutil_write_all(fd, content, len), 0);
	assert_int_equal(fsutil_write_all(fd, "END junk\n", 9), 0);
	assert_int_equal(lseek(fd, 10, SEEK_SET), 10);
	return fd;
}

static size_t test_maildir_count(const struct tm_state *t, const char *rel)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", t->dir, rel);
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

static void test_maildir_check_file(const char *path, const void *content, size_t len)
{
	char *data;
	size_t dlen;
	size_t plen = strlen(TEST_MAILDIR_PREFIX);
	assert_int_equal(fsutil_read_file(path, 64 << 20, &data, &dlen), 0);
	bool same = dlen == plen + len && memcmp(data, TEST_MAILDIR_PREFIX, plen) == 0 &&
	            memcmp(data + plen, content, len) == 0;
	free(data);
	assert_true(same);
}

static void test_maildir_deliver_one(void **state)
{
	struct tm_state *t = *state;
	unsigned char content[5000];
	test_maildir_fill(content, sizeof content, 3);
	int fd = test_maildir_content_fd(t, content, sizeof content);
	char path[PATH_MAX];
	assert_int_equal(maildir_deliver(t->dir, "example.org", "bob", TEST_MAILDIR_PREFIX,
	                                 strlen(TEST_MAILDIR_PREFIX), fd, sizeof content, path,
	                                 sizeof path),
	                 0);
	close(fd);
	test_maildir_check_file(path, content, sizeof content);

	/* DATA-DIR/mail/DOMAIN/LOCAL/new/TIME.MmicrosPpid_COUNTER.HOST */
	char box[PATH_MAX];
	snprintf(box, sizeof box, "%s/mail/example.org/bob/new/", t->dir);
	assert_memory_equal(path, box, strlen(box));
	const char *name = path + strlen(box);
	long long sec;
	long usec, pid;
	unsigned counter;
	int used = 0;
	assert_int_equal(sscanf(name, "%lld.M%ldP%ld_%u.%n", &sec, &usec, &pid, &counter, &used),
	                 4);
	assert_true(used > 0 && name[used] != '\0');
	assert_int_equal(pid, (long)getpid());
	assert_true(usec >= 0 && usec < 1000000);
	assert_null(strchr(name, ':'));
	assert_null(strchr(name, '/'));

	assert_int_equal(test_maildir_count(t, "mail/example.org/bob/new"), 1);
	assert_int_equal(test_maildir_count(t, "mail/example.org/bob/tmp"), 0);
	struct stat sb;
	snprintf(box, sizeof box, "%s/mail/example.org/bob/cur", t->dir);
	assert_int_equal(stat(box, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
}

static void test_maildir_many(void **state)
{
	struct tm_state *t = *state;
	static const char body[] = "Subject: hi\n\nbody\n";
	int fd = test_maildir_content_fd(t, body, sizeof body - 1);
	char first[PATH_MAX] = "";
	for (int i = 0; i < 50; i++) {
		char path[PATH_MAX];
		assert_int_equal(lseek(fd, 10, SEEK_SET), 10);
		assert_int_equal(maildir_deliver(t->dir, "example.org", "carol",
		                                 TEST_MAILDIR_PREFIX, strlen(TEST_MAILDIR_PREFIX),
		                                 fd, sizeof body - 1, path, sizeof path),
		                 0);
		if (i == 0)
			snprintf(first, sizeof first, "%s", path);
	}
	close(fd);
	assert_int_equal(test_maildir_count(t, "mail/example.org/carol/new"), 50);
	test_maildir_check_file(first, body, sizeof body - 1);

	/* no prefix, no content, no path wanted */
	assert_int_equal(maildir_deliver(t->dir, "example.org", "carol", NULL, 0, -1, 0, NULL, 0),
	                 0);
	assert_int_equal(test_maildir_count(t, "mail/example.org/carol/new"), 51);
}

static void test_maildir_bad_names(void **state)
{
	struct tm_state *t = *state;
	static const char *const bad[] = { "", ".", "..", "a/b", "/abs", ".hidden", "../x", "x/" };
	int fd = test_maildir_content_fd(t, "x", 1);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		errno = 0;
		assert_int_equal(maildir_deliver(t->dir, bad[i], "bob", "", 0, fd, 1, NULL, 0), -1);
		assert_int_equal(errno, EINVAL);
		errno = 0;
		assert_int_equal(
		    maildir_deliver(t->dir, "example.org", bad[i], "", 0, fd, 1, NULL, 0), -1);
		assert_int_equal(errno, EINVAL);
	}
	assert_int_equal(maildir_deliver(t->dir, "example.org", NULL, "", 0, fd, 1, NULL, 0), -1);
	assert_int_equal(errno, EINVAL);
	close(fd);
	char path[PATH_MAX];
	struct stat sb;
	snprintf(path, sizeof path, "%s/mail", t->dir);
	assert_int_equal(stat(path, &sb), -1); /* nothing was created */
}

static void test_maildir_short_content(void **state)
{
	struct tm_state *t = *state;
	int fd = test_maildir_content_fd(t, "abc", 3);
	/* 3 + 9 octets follow the offset: ask for 100 */
	errno = 0;
	assert_int_equal(maildir_deliver(t->dir, "example.org", "bob", TEST_MAILDIR_PREFIX,
	                                 strlen(TEST_MAILDIR_PREFIX), fd, 100, NULL, 0),
	                 -1);
	assert_int_equal(errno, EIO);
	close(fd);
	assert_int_equal(test_maildir_count(t, "mail/example.org/bob/tmp"), 0);
	assert_int_equal(test_maildir_count(t, "mail/example.org/bob/new"), 0);

	/* path_out too small: refused before anything is written */
	fd = test_maildir_content_fd(t, "abc", 3);
	char small[8];
	assert_int_equal(
	    maildir_deliver(t->dir, "example.org", "bob", "", 0, fd, 3, small, sizeof small), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	close(fd);
	assert_int_equal(test_maildir_count(t, "mail/example.org/bob/new"), 0);
}

/* A full disk, simulated: past RLIMIT_FSIZE writes fail with EFBIG (with
 * SIGXFSZ ignored), on the write(2) path and the copy_file_range one. */
static void test_maildir_disk_full(void **state)
{
	struct tm_state *t = *state;
	size_t len = 200000;
	unsigned char *content = malloc(len);
	assert_non_null(content);
	test_maildir_fill(content, len, 9);
	int fd = test_maildir_content_fd(t, content, len);

	struct rlimit old, lim;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
	static const size_t limits[] = { 10, 1000, 100000 }; /* in the prefix, in the content */
	for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
		assert_int_equal(lseek(fd, 10, SEEK_SET), 10);
		lim = old;
		lim.rlim_cur = limits[i];
		assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
		errno = 0;
		int r = maildir_deliver(t->dir, "example.org", "dave", TEST_MAILDIR_PREFIX,
		                        strlen(TEST_MAILDIR_PREFIX), fd, len, NULL, 0);
		int e = errno;
		assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
		assert_int_equal(r, -1);
		assert_int_equal(e, EFBIG);
		assert_int_equal(test_maildir_count(t, "mail/example.org/dave/tmp"), 0);
		assert_int_equal(test_maildir_count(t, "mail/example.org/dave/new"), 0);
	}
	signal(SIGXFSZ, prev);

	/* and with the limit gone it works */
	assert_int_equal(lseek(fd, 10, SEEK_SET), 10);
	char path[PATH_MAX];
	assert_int_equal(maildir_deliver(t->dir, "example.org", "dave", TEST_MAILDIR_PREFIX,
	                                 strlen(TEST_MAILDIR_PREFIX), fd, len, path, sizeof path),
	                 0);
	close(fd);
	test_maildir_check_file(path, content, len);
	free(content);
}

/* The fallback copy through a buffer: a pipe cannot be copy_file_range'd. */
static void test_maildir_pipe(void **state)
{
	struct tm_state *t = *state;
	unsigned char content[30000];
	test_maildir_fill(content, sizeof content, 11);
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(fcntl(p[1], F_SETPIPE_SZ, 65536) >= 0, 1);
	assert_int_equal(fsutil_write_all(p[1], content, sizeof content), 0);
	close(p[1]);
	char path[PATH_MAX];
	assert_int_equal(maildir_deliver(t->dir, "example.org", "erin", TEST_MAILDIR_PREFIX,
	                                 strlen(TEST_MAILDIR_PREFIX), p[0], sizeof content, path,
	                                 sizeof path),
	                 0);
	close(p[0]);
	test_maildir_check_file(path, content, sizeof content);
}

/* A mailbox whose new/ vanished is made whole again. */
static void test_maildir_repair(void **state)
{
	struct tm_state *t = *state;
	int fd = test_maildir_content_fd(t, "x\n", 2);
	assert_int_equal(maildir_deliver(t->dir, "example.org", "frank", "", 0, fd, 2, NULL, 0), 0);
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/mail/example.org/frank/new", t->dir);
	nftw(path, test_maildir_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	assert_int_equal(lseek(fd, 10, SEEK_SET), 10);
	assert_int_equal(maildir_deliver(t->dir, "example.org", "frank", "", 0, fd, 2, NULL, 0), 0);
	close(fd);
	assert_int_equal(test_maildir_count(t, "mail/example.org/frank/new"), 1);
	assert_int_equal(test_maildir_count(t, "mail/example.org/frank/tmp"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_maildir_deliver_one, test_maildir_setup,
		                                test_maildir_teardown),
		cmocka_unit_test_setup_teardown(test_maildir_many, test_maildir_setup,
		                                test_maildir_teardown),
		cmocka_unit_test_setup_teardown(test_maildir_bad_names, test_maildir_setup,
		                                test_maildir_teardown),
		cmocka_unit_test_setup_teardown(test_maildir_short_content, test_maildir_setup,
		                                test_maildir_teardown),
		cmocka_unit_test_setup_teardown(test_maildir_disk_full, test_maildir_setup,
		                                test_maildir_teardown),
		cmocka_unit_test_setup_teardown(test_maildir_pipe, test_maildir_setup,
		                                test_maildir_teardown),
		cmocka_unit_test_setup_teardown(test_maildir_repair, test_maildir_setup,
		                                test_maildir_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
