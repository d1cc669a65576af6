/*
 * uidvalidity — UIDVALIDITY values for new folders (RFC 9051 2.3.1.1:
 * a name must never get a UIDVALIDITY it had before), from the counter
 * Dovecot keeps in the user's root, so that tern and Dovecot creating
 * folders in the same tree never hand out the same value:
 *
 *   ROOT/dovecot-uidvalidity             the last value, 8 hex digits
 *   ROOT/dovecot-uidvalidity.XXXXXXXX    an empty file named after it
 *
 * Taking the next value is a rename of the named file from the current
 * value to the next: rename(2) succeeds for exactly one claimant, the
 * loser tries the next value. The first value is the time of day, so a
 * tree whose counter files were lost still starts above most values it
 * gave out before; the counter then only grows.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "store/store_int.h"

#define UIDVALIDITY_TRIES 10

static pthread_mutex_t uidvalidity_mu = PTHREAD_MUTEX_INITIALIZER;
static uint32_t uidvalidity_last;

/* Without the files: the clock, never the same value twice in this process. */
static uint32_t uidvalidity_fallback(void)
{
	uint32_t now = (uint32_t)time(NULL);
	uidvalidity_last = uidvalidity_last < now ? now : uidvalidity_last + 1;
	if (uidvalidity_last == 0)
		uidvalidity_last = 1;
	return uidvalidity_last;
}

static bool uidvalidity_parse(const char *s, uint32_t *v)
{
	if (strlen(s) != 8 || strspn(s, "0123456789abcdefABCDEF") != 8)
		return false;
	*v = (uint32_t)strtoul(s, NULL, 16);
	return *v != 0;
}

static void uidvalidity_write_main(const char *main_path, uint32_t v)
{
	char buf[9];
	snprintf(buf, sizeof buf, "%08x", v);
	int fd = open(main_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, STORE_FILE_MODE);
	if (fd < 0)
		return;
	if (fsutil_write_all(fd, buf, 8) == 0 && ftruncate(fd, 8) == 0) {
		/* only a hint for the next claimant; the named file is the truth */
	}
	close(fd);
}

/* Rename PATH.<cur> to PATH.<cur+1>...; the value claimed, or 0. */
static uint32_t uidvalidity_claim(const char *main_path, uint32_t cur)
{
	char from[PATH_MAX], to[PATH_MAX];
	for (int i = 0; i < UIDVALIDITY_TRIES; i++) {
		uint32_t next = cur + 1;
		if (next == 0)
			next = 1;
		int a = snprintf(from, sizeof from, "%s.%08x", main_path, cur);
		int b = snprintf(to, sizeof to, "%s.%08x", main_path, next);
		if (a < 0 || b < 0 || (size_t)a >= sizeof from || (size_t)b >= sizeof to)
			return 0;
		if (rename(from, to) == 0)
			return next;
		if (errno != ENOENT)
			return 0;
		cur = next; /* somebody took this one: try the next */
	}
	return 0;
}

/* The directory holds no usable counter name (or the hint was wrong):
 * find the highest PATH.XXXXXXXX, or make the first one. */
static uint32_t uidvalidity_rescan(const char *root, const char *main_path)
{
	DIR *d = opendir(root);
	if (d == NULL)
		return uidvalidity_fallback();
	const char *prefix = "dovecot-uidvalidity.";
	size_t pl = strlen(prefix);
	uint32_t max = 0, min = UINT32_MAX;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		uint32_t v;
		if (strncmp(de->d_name, prefix, pl) == 0 && uidvalidity_parse(de->d_name + pl, &v)) {
			if (v > max)
				max = v;
			if (v < min)
				min = v;
		}
	}
	closedir(d);
	char path[PATH_MAX];
	if (max == 0) {
		for (int i = 0; i < UIDVALIDITY_TRIES; i++) {
			uint32_t v = uidvalidity_fallback();
			int n = snprintf(path, sizeof path, "%s.%08x", main_path, v);
			if (n < 0 || (size_t)n >= sizeof path)
				return v;
			int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0444);
			if (fd >= 0) {
				close(fd);
				uidvalidity_write_main(main_path, v);
				return v;
			}
			if (errno != EEXIST)
				return v;
		}
		return uidvalidity_fallback();
	}
	if (min != max) {
		int n = snprintf(path, sizeof path, "%s.%08x", main_path, min);
		if (n > 0 && (size_t)n < sizeof path)
			unlink(path);
	}
	uint32_t v = uidvalidity_claim(main_path, max);
	if (v == 0)
		return uidvalidity_fallback();
	uidvalidity_write_main(main_path, v);
	return v;
}

uint32_t store_uidvalidity_next(const char *root)
{
	char main_path[PATH_MAX];
	int n = snprintf(main_path, sizeof main_path, "%s/dovecot-uidvalidity", root);
	pthread_mutex_lock(&uidvalidity_mu);
	uint32_t v;
	if (n < 0 || (size_t)n >= sizeof main_path) {
		v = uidvalidity_fallback();
		goto out;
	}
	char buf[16] = { 0 };
	int fd = open(main_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	uint32_t cur = 0;
	if (fd >= 0) {
		ssize_t r = fsutil_read_all(fd, buf, 8);
		close(fd);
		if (r == 8)
			buf[8] = '\0';
		if (r != 8 || !uidvalidity_parse(buf, &cur))
			cur = 0;
	}
	v = cur ? uidvalidity_claim(main_path, cur) : 0;
	if (v)
		uidvalidity_write_main(main_path, v);
	else
		v = uidvalidity_rescan(root, main_path);
out:
	if (v > uidvalidity_last)
		uidvalidity_last = v;
	pthread_mutex_unlock(&uidvalidity_mu);
	return v;
}
