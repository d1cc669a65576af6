/*
 * test_store — the IMAP mail store over a fresh temporary Maildir++ tree
 * per test: folders and special-use names, APPEND and what FETCH reads
 * back (octets exact on the wire), STORE renaming files and raising
 * MODSEQ, changes other programs make by hand (a file dropped into new/,
 * renamed for a flag, deleted), EXPUNGE and COPY with their UID sets,
 * CREATE/DELETE/RENAME with children and RENAME INBOX, subscriptions,
 * dovecot-uidlist that survives a reopen, a damaged cache, two views of
 * one folder, and quota numbers.
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
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "store/store.h"
#include "store/store_int.h"

#define TS_MSG1                                                                                                    \
	"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: hello there\r\n"                        \
	"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <1@example.org>\r\n\r\nfirst line\r\nsecond line\r\n"
#define TS_MSG2 "From: carol@example.org\r\nSubject: two\r\n\r\nbody two\r\n"

struct ts {
	char dir[64];
	struct store *st;
};

struct ts_sink {
	uint32_t seq[16], uid[16];
	size_t n;
};

static void ts_expunged(void *engine, uint32_t seq, uint32_t uid)
{
	struct ts_sink *k = engine;
	if (k->n < 16) {
		k->seq[k->n] = seq;
		k->uid[k->n] = uid;
	}
	k->n++;
}

static int ts_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int ts_setup(void **state)
{
	struct ts *t = calloc(1, sizeof *t);
	assert_non_null(t);
	snprintf(t->dir, sizeof t->dir, "/tmp/tern-ts-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	t->st = store_open(t->dir, 0);
	assert_non_null(t->st);
	*state = t;
	return 0;
}

static int ts_teardown(void **state)
{
	struct ts *t = *state;
	store_close(t->st);
	nftw(t->dir, ts_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return 0;
}

static uint32_t ts_append(struct store *st, const char *box, const char *msg, unsigned flags, const char *const *kw,
                          size_t nkw, int64_t date)
{
	struct imap_append *ap;
	size_t len = strlen(msg);
	assert_int_equal(store_append_begin(st, box, len, &ap), IMAP_STORE_OK);
	/* in two pieces, split inside a CR LF */
	size_t cut = 0;
	while (cut < len && msg[cut] != '\r')
		cut++;
	cut++;
	if (cut > len)
		cut = len;
	assert_int_equal(store_append_data(ap, msg, cut), IMAP_STORE_OK);
	assert_int_equal(store_append_data(ap, msg + cut, len - cut), IMAP_STORE_OK);
	uint32_t uidv = 0, uid = 0;
	assert_int_equal(store_append_commit(ap, flags, kw, nkw, date, 0, &uidv, &uid), IMAP_STORE_OK);
	assert_true(uidv != 0);
	assert_true(uid != 0);
	return uid;
}

/* The message as the engine sends it: every LF without CR becomes CR LF. */
static char *ts_wire(struct store_view *v, uint32_t seq, size_t *outlen)
{
	char raw[8192];
	long got = store_view_read(v, seq, 0, raw, sizeof raw);
	assert_true(got > 0);
	char *w = malloc((size_t)got * 2 + 1);
	assert_non_null(w);
	size_t k = 0;
	bool cr = false;
	for (long i = 0; i < got; i++) {
		if (raw[i] == '\n' && !cr)
			w[k++] = '\r';
		w[k++] = raw[i];
		cr = raw[i] == '\r';
	}
	w[k] = '\0';
	*outlen = k;
	return w;
}

static int ts_count_dir(const char *dir, char *first, size_t flen)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == 0 && first)
			snprintf(first, flen, "%s", de->d_name);
		n++;
	}
	closedir(d);
	return n;
}

static void ts_write_file(const char *path, const char *data, int64_t mtime)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fsutil_write_all(fd, data, strlen(data)), 0);
	if (mtime) {
		struct timespec ts[2] = { { .tv_sec = mtime }, { .tv_sec = mtime } };
		futimens(fd, ts);
	}
	close(fd);
}

static bool ts_has(const struct imap_folder *f, size_t n, const char *name, unsigned attrs)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(f[i].name, name) == 0)
			return (f[i].attrs & attrs) == attrs;
	return false;
}

/* ------------------------------------------------------------------ */

static void test_store_list_special(void **state)
{
	struct ts *t = *state;
	struct imap_folder *f;
	size_t n;
	assert_int_equal(store_list(t->st, &f, &n), IMAP_STORE_OK);
	assert_true(ts_has(f, n, "INBOX", IMAP_FOLDER_EXISTS));
	assert_true(ts_has(f, n, "Sent", IMAP_FOLDER_EXISTS | IMAP_FOLDER_SENT));
	assert_true(ts_has(f, n, "Drafts", IMAP_FOLDER_EXISTS | IMAP_FOLDER_DRAFTS));
	assert_true(ts_has(f, n, "Trash", IMAP_FOLDER_EXISTS | IMAP_FOLDER_TRASH));
	assert_true(ts_has(f, n, "Junk", IMAP_FOLDER_EXISTS | IMAP_FOLDER_JUNK));
	assert_true(ts_has(f, n, "Archive", IMAP_FOLDER_EXISTS | IMAP_FOLDER_ARCHIVE));
	free(f);
	char p[PATH_MAX];
	struct stat sb;
	snprintf(p, sizeof p, "%s/cur", t->dir);
	assert_int_equal(stat(p, &sb), 0);
	/* a special-use folder is made on first use */
	snprintf(p, sizeof p, "%s/.Sent/maildirfolder", t->dir);
	assert_int_not_equal(stat(p, &sb), 0);
	struct imap_status s;
	assert_int_equal(store_status(t->st, "Sent", IMAP_STATUS_MESSAGES, &s), IMAP_STORE_OK);
	assert_int_equal(s.messages, 0);
	assert_true(s.uidvalidity != 0);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(store_status(t->st, "Nope", IMAP_STATUS_MESSAGES, &s), IMAP_STORE_NONEXISTENT);
}

static void test_store_append_fetch(void **state)
{
	struct ts *t = *state;
	const char *kw[] = { "Work" };
	uint32_t uid = ts_append(t->st, "INBOX", TS_MSG1, IMAP_FLAG_SEEN, kw, 1, 1700000000);
	assert_int_equal(uid, 1);
	struct store_view *v;
	struct imap_box_info info;
	assert_int_equal(store_view_open(t->st, "INBOX", false, &v, &info), IMAP_STORE_OK);
	assert_int_equal(info.exists, 1);
	assert_int_equal(info.uidnext, 2);
	assert_int_equal(info.recent, 1);
	assert_int_equal(info.nkeywords, 1);
	assert_string_equal(info.keywords[0], "Work");
	assert_true(info.highestmodseq > 0);
	struct imap_msg m;
	store_view_msg(v, 1, &m);
	assert_int_equal(m.uid, 1);
	assert_int_equal(m.size, strlen(TS_MSG1));
	assert_int_equal(m.internaldate, 1700000000);
	assert_int_equal(m.flags, IMAP_FLAG_SEEN | IMAP_FLAG_RECENT);
	assert_int_equal(m.keywords, 1);
	/* BODY[] exactly as sent */
	size_t wl;
	char *w = ts_wire(v, 1, &wl);
	assert_int_equal(wl, strlen(TS_MSG1));
	assert_memory_equal(w, TS_MSG1, wl);
	free(w);
	struct mime_range r;
	assert_int_equal(store_view_section(v, 1, NULL, 0, MIME_SEC_ALL, &r), IMAP_STORE_OK);
	assert_int_equal(r.vsize, strlen(TS_MSG1));
	assert_int_equal(store_view_section(v, 1, NULL, 0, MIME_SEC_TEXT, &r), IMAP_STORE_OK);
	assert_int_equal(r.vsize, strlen("first line\r\nsecond line\r\n"));
	uint32_t path[1] = { 2 };
	assert_int_equal(store_view_section(v, 1, path, 1, MIME_SEC_ALL, &r), IMAP_STORE_NONEXISTENT);
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(store_view_envelope(v, 1, &b), IMAP_STORE_OK);
	assert_non_null(strstr(b.data, "\"Mon, 1 Jan 2024 10:00:00 +0000\""));
	assert_non_null(strstr(b.data, "\"hello there\""));
	assert_non_null(strstr(b.data, "\"alice\" \"example.org\""));
	buf_reset(&b);
	assert_int_equal(store_view_structure(v, 1, true, &b), IMAP_STORE_OK);
	assert_non_null(strstr(b.data, "\"text\" \"plain\""));
	buf_reset(&b);
	assert_int_equal(store_view_structure(v, 1, false, &b), IMAP_STORE_OK);
	assert_true(b.len > 10 && b.data[0] == '(');
	buf_free(&b);
	int64_t sent;
	int tz;
	assert_true(store_view_sent_date(v, 1, &sent, &tz));
	assert_int_equal(sent, 1704103200);
	assert_int_equal(tz, 0);
	struct mime_needle nd[2] = { { .where = MIME_NEEDLE_BODY, .text = "SECOND", .len = 6 },
		                     { .where = MIME_NEEDLE_BODY, .text = "absent", .len = 6 } };
	bool hit[2];
	assert_int_equal(store_view_search_text(v, 1, nd, 2, hit), IMAP_STORE_OK);
	assert_true(hit[0]);
	assert_false(hit[1]);
	store_view_close(v);
	/* on disk: LF line ends, flags and the keyword letter in the name */
	char cur[PATH_MAX], name[NAME_MAX + 1];
	snprintf(cur, sizeof cur, "%s/cur", t->dir);
	assert_int_equal(ts_count_dir(cur, name, sizeof name), 1);
	size_t nl = strlen(name);
	assert_true(nl > 5 && strcmp(name + nl - 5, ":2,Sa") == 0);
	assert_non_null(strstr(name, ",W="));
	char kwp[PATH_MAX], *kd;
	size_t kl;
	snprintf(kwp, sizeof kwp, "%s/dovecot-keywords", t->dir);
	assert_int_equal(fsutil_read_file(kwp, 4096, &kd, &kl), 0);
	assert_string_equal(kd, "0 Work\n");
	free(kd);
}

static void test_store_flags(void **state)
{
	struct ts *t = *state;
	ts_append(t->st, "INBOX", TS_MSG1, 0, NULL, 0, 0);
	struct store_view *v;
	struct imap_box_info info;
	assert_int_equal(store_view_open(t->st, "INBOX", false, &v, &info), IMAP_STORE_OK);
	struct imap_msg m0, m;
	store_view_msg(v, 1, &m0);
	assert_int_equal(store_view_store(v, 1, IMAP_STORE_ADD, IMAP_FLAG_FLAGGED | IMAP_FLAG_SEEN, 0, 0, &m),
	                 IMAP_STORE_OK);
	assert_int_equal(store_view_flush(v), IMAP_STORE_OK);
	assert_true(m.modseq > m0.modseq);
	assert_int_equal(m.flags & IMAP_FLAGS_SYSTEM, IMAP_FLAG_FLAGGED | IMAP_FLAG_SEEN);
	char cur[PATH_MAX], name[NAME_MAX + 1];
	snprintf(cur, sizeof cur, "%s/cur", t->dir);
	assert_int_equal(ts_count_dir(cur, name, sizeof name), 1);
	assert_non_null(strstr(name, ":2,FS"));
	/* a keyword made on the way */
	int k = store_view_keyword(v, "$Forwarded", true);
	assert_int_equal(k, 0);
	assert_int_equal(store_view_keyword(v, "$forwarded", false), 0);
	assert_int_equal(store_view_keyword(v, "Unknown", false), -1);
	struct imap_msg m2;
	assert_int_equal(store_view_store(v, 1, IMAP_STORE_ADD, 0, 1u << k, 0, &m2), IMAP_STORE_OK);
	assert_int_equal(m2.keywords, 1);
	assert_true(m2.modseq > m.modseq);
	/* UNCHANGEDSINCE older than the message: refused (RFC 7162) */
	assert_int_equal(store_view_store(v, 1, IMAP_STORE_REMOVE, IMAP_FLAG_SEEN, 0, m.modseq, &m2),
	                 IMAP_STORE_MODIFIED);
	/* no change: no new modseq */
	struct imap_msg m3;
	assert_int_equal(store_view_store(v, 1, IMAP_STORE_ADD, IMAP_FLAG_SEEN, 0, 0, &m3), IMAP_STORE_OK);
	assert_int_equal(m3.modseq, m2.modseq);
	assert_int_equal(store_view_store(v, 1, IMAP_STORE_SET, IMAP_FLAG_ANSWERED, 0, 0, &m3), IMAP_STORE_OK);
	assert_int_equal(m3.flags & IMAP_FLAGS_SYSTEM, IMAP_FLAG_ANSWERED);
	assert_int_equal(m3.keywords, 0);
	assert_int_equal(store_view_flush(v), IMAP_STORE_OK);
	assert_int_equal(ts_count_dir(cur, name, sizeof name), 1);
	assert_true(strlen(name) > 4 && strcmp(name + strlen(name) - 4, ":2,R") == 0);
	struct imap_box_info i2;
	assert_int_equal(store_view_sync(v, true, NULL, &i2), IMAP_STORE_OK);
	assert_true(i2.highestmodseq >= m3.modseq);
	assert_int_equal(i2.nkeywords, 1);
	store_view_close(v);
	/* a read-only view cannot */
	assert_int_equal(store_view_open(t->st, "INBOX", true, &v, &info), IMAP_STORE_OK);
	assert_true(info.readonly);
	assert_int_equal(store_view_store(v, 1, IMAP_STORE_ADD, IMAP_FLAG_SEEN, 0, 0, &m3), IMAP_STORE_NOPERM);
	store_view_close(v);
}

static void test_store_external(void **state)
{
	struct ts *t = *state;
	ts_append(t->st, "INBOX", TS_MSG1, 0, NULL, 0, 0);
	struct store_view *v;
	struct imap_box_info info;
	assert_int_equal(store_view_open(t->st, "INBOX", false, &v, &info), IMAP_STORE_OK);
	assert_int_equal(info.exists, 1);
	/* delivery drops a file into new/ (LF line ends) */
	char p[PATH_MAX], q[PATH_MAX];
	snprintf(p, sizeof p, "%s/new/1700000001.M1P1_0.testhost", t->dir);
	ts_write_file(p, "From: x@y\nSubject: dropped\n\nhi\n", 1700000001);
	struct ts_sink k = { 0 };
	struct imap_sync_sink sink = { .expunged = ts_expunged, .engine = &k };
	assert_int_equal(store_view_sync(v, true, &sink, &info), IMAP_STORE_OK);
	assert_int_equal(info.exists, 2);
	assert_int_equal(info.recent, 2);
	struct imap_msg m;
	store_view_msg(v, 2, &m);
	assert_int_equal(m.uid, 2);
	assert_int_equal(m.size, strlen("From: x@y\nSubject: dropped\n\nhi\n") + 4);
	assert_int_equal(m.internaldate, 1700000001);
	assert_true(m.flags & IMAP_FLAG_RECENT);
	uint64_t ms = m.modseq;
	/* a read-write session moved it to cur/ */
	snprintf(q, sizeof q, "%s/cur/1700000001.M1P1_0.testhost:2,", t->dir);
	struct stat sb;
	assert_int_equal(stat(q, &sb), 0);
	/* another program marks it \Seen by renaming */
	snprintf(p, sizeof p, "%s/cur/1700000001.M1P1_0.testhost:2,S", t->dir);
	assert_int_equal(rename(q, p), 0);
	assert_int_equal(store_view_sync(v, true, &sink, &info), IMAP_STORE_OK);
	store_view_msg(v, 2, &m);
	assert_int_equal(m.uid, 2);
	assert_true(m.flags & IMAP_FLAG_SEEN);
	assert_true(m.modseq > ms);
	assert_true(info.highestmodseq >= m.modseq);
	/* it can still be read under its new name */
	size_t wl;
	char *w = ts_wire(v, 2, &wl);
	assert_string_equal(w, "From: x@y\r\nSubject: dropped\r\n\r\nhi\r\n");
	free(w);
	/* and deleted by hand: not told while expunges are not allowed */
	assert_int_equal(unlink(p), 0);
	assert_int_equal(store_view_sync(v, false, &sink, &info), IMAP_STORE_OK);
	assert_int_equal(k.n, 0);
	assert_int_equal(info.exists, 2);
	store_view_msg(v, 2, &m);
	assert_int_equal(m.uid, 2);
	char rb[16];
	assert_int_equal(store_view_read(v, 2, 0, rb, sizeof rb), 16); /* the open file still reads */
	assert_int_equal(store_view_sync(v, true, &sink, &info), IMAP_STORE_OK);
	assert_int_equal(k.n, 1);
	assert_int_equal(k.seq[0], 2);
	assert_int_equal(k.uid[0], 2);
	assert_int_equal(info.exists, 1);
	/* a new one after it gets a new UID, never 2 again */
	snprintf(p, sizeof p, "%s/new/1700000002.M2P1_0.testhost", t->dir);
	ts_write_file(p, "Subject: three\n\nx\n", 0);
	assert_int_equal(store_view_sync(v, true, &sink, &info), IMAP_STORE_OK);
	store_view_msg(v, 2, &m);
	assert_int_equal(m.uid, 3);
	store_view_close(v);
}

static void test_store_expunge_copy(void **state)
{
	struct ts *t = *state;
	assert_int_equal(store_create(t->st, "Work"), IMAP_STORE_OK);
	assert_int_equal(store_create(t->st, "Work"), IMAP_STORE_EXISTS);
	const char *kw[] = { "Later" };
	for (int i = 0; i < 3; i++)
		ts_append(t->st, "INBOX", i == 1 ? TS_MSG2 : TS_MSG1, i == 2 ? IMAP_FLAG_FLAGGED : 0, kw, i == 2, 0);
	struct store_view *v;
	struct imap_box_info info;
	assert_int_equal(store_view_open(t->st, "INBOX", false, &v, &info), IMAP_STORE_OK);
	assert_int_equal(info.exists, 3);
	struct imap_msg m;
	assert_int_equal(store_view_store(v, 1, IMAP_STORE_ADD, IMAP_FLAG_DELETED, 0, 0, &m), IMAP_STORE_OK);
	assert_int_equal(store_view_store(v, 3, IMAP_STORE_ADD, IMAP_FLAG_DELETED, 0, 0, &m), IMAP_STORE_OK);
	struct imap_seqset seqs, src, dst;
	imap_seqset_init(&seqs);
	imap_seqset_init(&src);
	imap_seqset_init(&dst);
	imap_seqset_add(&seqs, 1, 3);
	uint32_t uidv = 0;
	assert_int_equal(store_view_copy(v, &seqs, "Work", &uidv, &src, &dst), IMAP_STORE_OK);
	assert_true(uidv != 0);
	struct buf b;
	buf_init(&b, 0);
	imap_seqset_format(&src, &b);
	assert_string_equal(b.data, "1:3");
	buf_reset(&b);
	imap_seqset_format(&dst, &b);
	assert_string_equal(b.data, "1:3");
	buf_free(&b);
	imap_seqset_free(&src);
	imap_seqset_free(&dst);
	imap_seqset_init(&src);
	imap_seqset_init(&dst);
	assert_int_equal(store_view_copy(v, &seqs, "Nowhere", &uidv, &src, &dst), IMAP_STORE_NONEXISTENT);
	imap_seqset_free(&src);
	imap_seqset_free(&dst);
	imap_seqset_free(&seqs);
	struct ts_sink k = { 0 };
	struct imap_sync_sink sink = { .expunged = ts_expunged, .engine = &k };
	assert_int_equal(store_view_expunge(v, NULL, &sink), IMAP_STORE_OK);
	assert_int_equal(store_view_flush(v), IMAP_STORE_OK);
	assert_int_equal(k.n, 2);
	assert_int_equal(k.seq[0], 1);
	assert_int_equal(k.uid[0], 1);
	assert_int_equal(k.seq[1], 2); /* UID 3 was seq 3, seq 2 once 1 was gone */
	assert_int_equal(k.uid[1], 3);
	assert_int_equal(store_view_sync(v, true, &sink, &info), IMAP_STORE_OK);
	assert_int_equal(info.exists, 1);
	store_view_msg(v, 1, &m);
	assert_int_equal(m.uid, 2);
	store_view_close(v);
	/* the copies, flags and keyword by name with them */
	assert_int_equal(store_view_open(t->st, "Work", false, &v, &info), IMAP_STORE_OK);
	assert_int_equal(info.exists, 3);
	assert_int_equal(info.uidvalidity, uidv);
	store_view_msg(v, 3, &m);
	assert_int_equal(m.uid, 3);
	assert_true(m.flags & IMAP_FLAG_FLAGGED);
	assert_true(m.flags & IMAP_FLAG_DELETED);
	assert_int_equal(m.keywords, 1);
	assert_string_equal(info.keywords[0], "Later");
	store_view_msg(v, 2, &m);
	assert_int_equal(m.size, strlen(TS_MSG2));
	size_t wl;
	char *w = ts_wire(v, 2, &wl);
	assert_string_equal(w, TS_MSG2);
	free(w);
	/* UID EXPUNGE of one of them only */
	struct imap_seqset only;
	imap_seqset_init(&only);
	imap_seqset_add(&only, 3, 3);
	k.n = 0;
	assert_int_equal(store_view_expunge(v, &only, &sink), IMAP_STORE_OK);
	assert_int_equal(k.n, 1);
	assert_int_equal(k.uid[0], 3);
	imap_seqset_free(&only);
	store_view_close(v);
}

static void test_store_folders(void **state)
{
	struct ts *t = *state;
	assert_int_equal(store_create(t->st, "A"), IMAP_STORE_OK);
	assert_int_equal(store_create(t->st, "A.B"), IMAP_STORE_OK);
	assert_int_equal(store_create(t->st, "INBOX"), IMAP_STORE_EXISTS);
	assert_int_equal(store_create(t->st, "../x"), IMAP_STORE_BADNAME);
	ts_append(t->st, "A.B", TS_MSG2, 0, NULL, 0, 0);
	char p[PATH_MAX];
	struct stat sb;
	snprintf(p, sizeof p, "%s/.A.B/maildirfolder", t->dir);
	assert_int_equal(stat(p, &sb), 0);
	struct imap_status s0;
	assert_int_equal(store_status(t->st, "A.B", 0xff, &s0), IMAP_STORE_OK);
	assert_int_equal(s0.messages, 1);
	/* rename with the children: UIDVALIDITY and UIDs move along */
	assert_int_equal(store_rename(t->st, "A", "C"), IMAP_STORE_OK);
	struct imap_folder *f;
	size_t n;
	assert_int_equal(store_list(t->st, &f, &n), IMAP_STORE_OK);
	assert_true(ts_has(f, n, "C", IMAP_FOLDER_EXISTS));
	assert_true(ts_has(f, n, "C.B", IMAP_FOLDER_EXISTS));
	assert_false(ts_has(f, n, "A", 0));
	assert_false(ts_has(f, n, "A.B", 0));
	free(f);
	struct imap_status s1;
	assert_int_equal(store_status(t->st, "C.B", 0xff, &s1), IMAP_STORE_OK);
	assert_int_equal(s1.messages, 1);
	assert_int_equal(s1.uidvalidity, s0.uidvalidity);
	assert_int_equal(s1.uidnext, s0.uidnext);
	assert_int_equal(store_rename(t->st, "Nope", "D"), IMAP_STORE_NONEXISTENT);
	assert_int_equal(store_create(t->st, "E"), IMAP_STORE_OK);
	assert_int_equal(store_rename(t->st, "C", "E"), IMAP_STORE_EXISTS);
	/* delete: the children stay */
	assert_int_equal(store_delete(t->st, "C"), IMAP_STORE_OK);
	assert_int_equal(store_delete(t->st, "C"), IMAP_STORE_NONEXISTENT);
	assert_int_equal(store_delete(t->st, "INBOX"), IMAP_STORE_NOPERM);
	assert_int_equal(store_list(t->st, &f, &n), IMAP_STORE_OK);
	assert_false(ts_has(f, n, "C", 0));
	assert_true(ts_has(f, n, "C.B", IMAP_FOLDER_EXISTS));
	for (size_t i = 0; i < n; i++)
		assert_null(strstr(f[i].name, "tern-deleted"));
	free(f);
	/* made again: a new UIDVALIDITY */
	assert_int_equal(store_create(t->st, "C"), IMAP_STORE_OK);
	struct imap_status s2;
	assert_int_equal(store_status(t->st, "C", 0xff, &s2), IMAP_STORE_OK);
	assert_true(s2.uidvalidity != s0.uidvalidity);

	/* RENAME INBOX: its messages move, INBOX stays and is empty */
	ts_append(t->st, "INBOX", TS_MSG1, IMAP_FLAG_SEEN, NULL, 0, 0);
	ts_append(t->st, "INBOX", TS_MSG2, 0, NULL, 0, 0);
	struct store_view *v;
	struct imap_box_info info;
	assert_int_equal(store_view_open(t->st, "INBOX", false, &v, &info), IMAP_STORE_OK);
	assert_int_equal(info.exists, 2);
	assert_int_equal(store_rename(t->st, "INBOX", "Old"), IMAP_STORE_OK);
	struct ts_sink k = { 0 };
	struct imap_sync_sink sink = { .expunged = ts_expunged, .engine = &k };
	assert_int_equal(store_view_sync(v, true, &sink, &info), IMAP_STORE_OK);
	assert_int_equal(info.exists, 0);
	assert_int_equal(k.n, 2);
	store_view_close(v);
	struct imap_status s3;
	assert_int_equal(store_status(t->st, "Old", 0xff, &s3), IMAP_STORE_OK);
	assert_int_equal(s3.messages, 2);
	assert_int_equal(s3.unseen, 1);
	assert_int_equal(store_status(t->st, "INBOX", 0xff, &s3), IMAP_STORE_OK);
	assert_int_equal(s3.messages, 0);
	assert_int_equal(s3.uidnext, 3);
}

static void test_store_subscriptions(void **state)
{
	struct ts *t = *state;
	assert_int_equal(store_subscribe(t->st, "Foo", true), IMAP_STORE_OK);
	assert_int_equal(store_subscribe(t->st, "A.B", true), IMAP_STORE_OK);
	assert_int_equal(store_subscribe(t->st, "Gone", true), IMAP_STORE_OK);
	assert_int_equal(store_subscribe(t->st, "Gone", false), IMAP_STORE_OK);
	char p[PATH_MAX], *d;
	size_t len;
	snprintf(p, sizeof p, "%s/subscriptions", t->dir);
	assert_int_equal(fsutil_read_file(p, 4096, &d, &len), 0);
	assert_string_equal(d, "V\t2\n\nFoo\nA\tB\n");
	free(d);
	store_close(t->st);
	t->st = store_open(t->dir, 0);
	assert_non_null(t->st);
	struct imap_folder *f;
	size_t n;
	assert_int_equal(store_list(t->st, &f, &n), IMAP_STORE_OK);
	assert_true(ts_has(f, n, "Foo", IMAP_FOLDER_SUBSCRIBED));
	assert_false(ts_has(f, n, "Foo", IMAP_FOLDER_EXISTS));
	assert_true(ts_has(f, n, "A.B", IMAP_FOLDER_SUBSCRIBED));
	assert_false(ts_has(f, n, "Gone", 0));
	free(f);
	/* the old format (one name a line, "." between levels) is read too */
	ts_write_file(p, "Old.Style\nINBOX\n", 0);
	assert_int_equal(store_list(t->st, &f, &n), IMAP_STORE_OK);
	assert_true(ts_has(f, n, "Old.Style", IMAP_FOLDER_SUBSCRIBED));
	assert_true(ts_has(f, n, "INBOX", IMAP_FOLDER_SUBSCRIBED | IMAP_FOLDER_EXISTS));
	free(f);
}

static void test_store_uidlist_persist(void **state)
{
	struct ts *t = *state;
	for (int i = 0; i < 3; i++)
		ts_append(t->st, "INBOX", TS_MSG2, 0, NULL, 0, 0);
	struct imap_status s0;
	assert_int_equal(store_status(t->st, "INBOX", 0xff, &s0), IMAP_STORE_OK);
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/dovecot-uidlist", t->dir);
	struct uidlist ul;
	assert_int_equal(uidlist_read(p, &ul), UIDLIST_OK);
	assert_int_equal(ul.version, 3);
	assert_int_equal(ul.uidvalidity, s0.uidvalidity);
	assert_true(ul.nextuid >= 4);
	assert_int_equal(ul.n, 3);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(ul.recs[i].uid, i + 1);
	assert_int_equal(strlen(ul.guid), 32);
	uidlist_free(&ul);
	store_close(t->st);
	/* the cache gone too: only the uidlist knows the UIDs */
	snprintf(p, sizeof p, "%s/tern-index", t->dir);
	unlink(p);
	t->st = store_open(t->dir, 0);
	struct store_view *v;
	struct imap_box_info info;
	assert_int_equal(store_view_open(t->st, "INBOX", false, &v, &info), IMAP_STORE_OK);
	assert_int_equal(info.uidvalidity, s0.uidvalidity);
	assert_int_equal(info.exists, 3);
	for (uint32_t s = 1; s <= 3; s++) {
		struct imap_msg m;
		store_view_msg(v, s, &m);
		assert_int_equal(m.uid, s);
	}
	store_view_close(v);

	/* a damaged uidlist: a record line far too long is dropped, the
	 * header (UIDVALIDITY) and the other records stand */
	snprintf(p, sizeof p, "%s/dovecot-uidlist", t->dir);
	char *d;
	size_t len;
	assert_int_equal(fsutil_read_file(p, 1 << 20, &d, &len), 0);
	char *nl = strchr(d, '\n');
	assert_non_null(nl);
	size_t hl = (size_t)(nl - d) + 1;
	size_t big = 40000;
	char *nd = malloc(len + big + 2);
	assert_non_null(nd);
	memcpy(nd, d, hl);
	memset(nd + hl, 'x', big);
	nd[hl + big] = '\n';
	memcpy(nd + hl + big + 1, d + hl, len - hl);
	nd[len + big + 1] = '\0';
	ts_write_file(p, nd, 0);
	free(nd);
	free(d);
	assert_int_equal(uidlist_read(p, &ul), UIDLIST_DAMAGED);
	assert_int_equal(ul.uidvalidity, s0.uidvalidity);
	assert_int_equal(ul.n, 3);
	uidlist_free(&ul);
	store_close(t->st);
	snprintf(p, sizeof p, "%s/tern-index", t->dir);
	unlink(p);
	t->st = store_open(t->dir, 0);
	assert_int_equal(store_view_open(t->st, "INBOX", false, &v, &info), IMAP_STORE_OK);
	assert_int_equal(info.uidvalidity, s0.uidvalidity);
	struct imap_msg m;
	store_view_msg(v, 3, &m);
	assert_int_equal(m.uid, 3);
	store_view_close(v);
	snprintf(p, sizeof p, "%s/dovecot-uidlist", t->dir);
	assert_int_equal(uidlist_read(p, &ul), UIDLIST_OK); /* rewritten whole */
	uidlist_free(&ul);
}

static void test_store_damaged_cache(void **state)
{
	struct ts *t = *state;
	ts_append(t->st, "INBOX", TS_MSG1, 0, NULL, 0, 0);
	ts_append(t->st, "INBOX", TS_MSG2, 0, NULL, 0, 0);
	struct store_view *v;
	struct imap_box_info info;
	assert_int_equal(store_view_open(t->st, "INBOX", false, &v, &info), IMAP_STORE_OK);
	struct imap_msg m;
	assert_int_equal(store_view_store(v, 2, IMAP_STORE_ADD, IMAP_FLAG_SEEN, 0, 0, &m), IMAP_STORE_OK);
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(store_view_envelope(v, 1, &b), IMAP_STORE_OK);
	assert_int_equal(store_view_sync(v, true, NULL, &info), IMAP_STORE_OK);
	uint64_t hms = info.highestmodseq;
	store_view_close(v);
	/* reopened from the cache: no message file is opened */
	struct store_counters c0, c1;
	store_counters_get(&c0);
	assert_int_equal(store_view_open(t->st, "INBOX", false, &v, &info), IMAP_STORE_OK);
	store_counters_get(&c1);
	assert_int_equal(c1.msg_opens, c0.msg_opens);
	assert_int_equal(c1.index_loads, c0.index_loads + 1);
	assert_true(info.highestmodseq >= hms);
	buf_reset(&b);
	assert_int_equal(store_view_envelope(v, 1, &b), IMAP_STORE_OK); /* from tern-cache */
	store_counters_get(&c1);
	assert_int_equal(c1.msg_opens, c0.msg_opens);
	assert_non_null(strstr(b.data, "hello there"));
	store_view_close(v);
	/* scribble over the index and the blob file */
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/tern-index", t->dir);
	int fd = open(p, O_WRONLY);
	assert_true(fd >= 0);
	struct stat sb;
	assert_int_equal(fstat(fd, &sb), 0);
	assert_true(pwrite(fd, "garbage!", 8, sb.st_size / 2) == 8);
	close(fd);
	snprintf(p, sizeof p, "%s/tern-cache", t->dir);
	fd = open(p, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &sb), 0);
	for (off_t o = 20; o < sb.st_size; o += 7)
		assert_true(pwrite(fd, "Z", 1, o) == 1);
	close(fd);
	assert_int_equal(store_view_open(t->st, "INBOX", false, &v, &info), IMAP_STORE_OK);
	assert_int_equal(info.exists, 2);
	assert_true(info.highestmodseq >= hms);
	store_view_msg(v, 2, &m);
	assert_int_equal(m.uid, 2);
	assert_true(m.flags & IMAP_FLAG_SEEN);
	buf_reset(&b);
	assert_int_equal(store_view_envelope(v, 1, &b), IMAP_STORE_OK);
	assert_non_null(strstr(b.data, "hello there"));
	assert_null(strchr(b.data, 'Z'));
	buf_free(&b);
	store_view_close(v);
	/* a cache that is not even a cache */
	snprintf(p, sizeof p, "%s/tern-index", t->dir);
	ts_write_file(p, "nonsense", 0);
	assert_int_equal(store_view_open(t->st, "INBOX", false, &v, &info), IMAP_STORE_OK);
	assert_int_equal(info.exists, 2);
	assert_true(info.highestmodseq >= hms);
	store_view_close(v);
}

static void test_store_two_views(void **state)
{
	struct ts *t = *state;
	for (int i = 0; i < 3; i++)
		ts_append(t->st, "INBOX", TS_MSG2, 0, NULL, 0, 0);
	struct store *st2 = store_open(t->dir, 0);
	assert_non_null(st2);
	struct store_view *a, *b;
	struct imap_box_info ia, ib;
	assert_int_equal(store_view_open(t->st, "INBOX", false, &a, &ia), IMAP_STORE_OK);
	assert_int_equal(store_view_open(st2, "INBOX", false, &b, &ib), IMAP_STORE_OK);
	assert_int_equal(ia.recent, 3); /* the first read-write session has them */
	assert_int_equal(ib.recent, 0);
	struct imap_msg m;
	assert_int_equal(store_view_store(a, 2, IMAP_STORE_ADD, IMAP_FLAG_DELETED, 0, 0, &m), IMAP_STORE_OK);
	assert_int_equal(store_view_sync(b, false, NULL, &ib), IMAP_STORE_OK);
	struct imap_msg mb;
	store_view_msg(b, 2, &mb);
	assert_true(mb.flags & IMAP_FLAG_DELETED);
	assert_int_equal(mb.modseq, m.modseq);
	assert_true(ib.highestmodseq >= m.modseq);
	ts_append(t->st, "INBOX", TS_MSG1, 0, NULL, 0, 0);
	struct ts_sink ka = { 0 }, kb = { 0 };
	struct imap_sync_sink sa = { .expunged = ts_expunged, .engine = &ka };
	struct imap_sync_sink sb = { .expunged = ts_expunged, .engine = &kb };
	assert_int_equal(store_view_expunge(a, NULL, &sa), IMAP_STORE_OK);
	assert_int_equal(ka.n, 1);
	/* b may not be told yet: its numbers stay, the new one is added */
	assert_int_equal(store_view_sync(b, false, &sb, &ib), IMAP_STORE_OK);
	assert_int_equal(kb.n, 0);
	assert_int_equal(ib.exists, 4);
	store_view_msg(b, 2, &mb);
	assert_int_equal(mb.uid, 2);
	store_view_msg(b, 4, &mb);
	assert_int_equal(mb.uid, 4);
	uint32_t lo, hi;
	assert_true(store_view_uid_range(b, 2, 3, &lo, &hi));
	assert_int_equal(lo, 2);
	assert_int_equal(hi, 3);
	assert_false(store_view_uid_range(b, 5, 9, &lo, &hi));
	assert_int_equal(store_view_sync(b, true, &sb, &ib), IMAP_STORE_OK);
	assert_int_equal(kb.n, 1);
	assert_int_equal(kb.seq[0], 2);
	assert_int_equal(kb.uid[0], 2);
	assert_int_equal(ib.exists, 3);
	store_view_msg(b, 2, &mb);
	assert_int_equal(mb.uid, 3);
	assert_int_equal(store_view_sync(a, true, &sa, &ia), IMAP_STORE_OK);
	assert_int_equal(ia.exists, 3);
	assert_int_equal(ia.recent, 2); /* 1 and 3; b saw 4 arrive first */
	assert_int_equal(ib.recent, 1);
	/* STATUS RECENT is per session too (RFC 3501 2.3.2; imaptest's
	 * "append"): each counts its own, a session without a view none */
	struct imap_status sta, stb, stc;
	assert_int_equal(store_status(t->st, "INBOX", IMAP_STATUS_RECENT, &sta), IMAP_STORE_OK);
	assert_int_equal(sta.recent, 2);
	assert_int_equal(store_status(st2, "INBOX", IMAP_STATUS_RECENT, &stb), IMAP_STORE_OK);
	assert_int_equal(stb.recent, 1);
	struct store *st3 = store_open(t->dir, 0);
	assert_non_null(st3);
	assert_int_equal(store_status(st3, "INBOX", IMAP_STATUS_RECENT, &stc), IMAP_STORE_OK);
	assert_int_equal(stc.recent, 0);
	store_close(st3);
	store_view_close(a);
	store_view_close(b);
	store_close(st2);
}

static void test_store_quota(void **state)
{
	struct ts *t = *state;
	store_close(t->st);
	t->st = store_open(t->dir, 200);
	assert_non_null(t->st);
	uint64_t used, limit, msgs;
	assert_int_equal(store_quota(t->st, &used, &limit, &msgs), IMAP_STORE_OK);
	assert_int_equal(used, 0);
	assert_int_equal(limit, 200);
	assert_int_equal(msgs, 0);
	ts_append(t->st, "INBOX", TS_MSG2, 0, NULL, 0, 0);
	ts_append(t->st, "Sent", TS_MSG2, 0, NULL, 0, 0);
	assert_int_equal(store_quota(t->st, &used, &limit, &msgs), IMAP_STORE_OK);
	assert_int_equal(used, 2 * strlen(TS_MSG2));
	assert_int_equal(msgs, 2);
	struct imap_append *ap;
	assert_int_equal(store_append_begin(t->st, "INBOX", strlen(TS_MSG1), &ap), IMAP_STORE_OVERQUOTA);
	assert_int_equal(store_append_begin(t->st, "Nope", 10, &ap), IMAP_STORE_NONEXISTENT);
	/* an abandoned APPEND leaves nothing */
	assert_int_equal(store_append_begin(t->st, "INBOX", 10, &ap), IMAP_STORE_OK);
	assert_int_equal(store_append_data(ap, "Subject: x", 10), IMAP_STORE_OK);
	store_append_abort(ap);
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s/tmp", t->dir);
	assert_int_equal(ts_count_dir(tmp, NULL, 0), 0);
}

static void test_store_foreign_uidlist(void **state)
{
	struct ts *t = *state;
	char p[PATH_MAX];
	const char *names[3] = { "1600000000.M1P9.other", "1600000001.M2P9.other", "1600000002.M3P9.other" };
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s/cur/%s:2,%s", t->dir, names[i], i == 0 ? "S" : "");
		ts_write_file(p, "Subject: old\n\nx\n", 1600000000 + i);
	}
	/* another server numbered two of them already (and its header's N
	 * is behind its records, as Dovecot leaves it after appending) */
	snprintf(p, sizeof p, "%s/dovecot-uidlist", t->dir);
	ts_write_file(p,
	              "3 V12345 N8 G0123456789abcdef0123456789abcdef\n"
	              "7 W19 :1600000000.M1P9.other\n"
	              "9 :1600000001.M2P9.other\n",
	              0);
	struct store_view *v;
	struct imap_box_info info;
	assert_int_equal(store_view_open(t->st, "INBOX", false, &v, &info), IMAP_STORE_OK);
	assert_int_equal(info.uidvalidity, 12345);
	assert_int_equal(info.exists, 3);
	uint32_t want[3] = { 7, 9, 10 };
	for (uint32_t s = 1; s <= 3; s++) {
		struct imap_msg m;
		store_view_msg(v, s, &m);
		assert_int_equal(m.uid, want[s - 1]);
		assert_int_equal(m.size, 19);
		assert_int_equal(m.internaldate, 1600000000 + (int)s - 1);
	}
	assert_int_equal(info.uidnext, 11);
	struct uidlist ul;
	assert_int_equal(uidlist_read(p, &ul), UIDLIST_OK);
	assert_int_equal(ul.uidvalidity, 12345);
	assert_int_equal(ul.n, 3);
	assert_int_equal(ul.recs[2].uid, 10);
	assert_int_equal(ul.recs[0].ext_len, 3); /* the other server's fields are kept */
	uidlist_free(&ul);
	/* the other server starts the folder over: a new UIDVALIDITY, and
	 * every UID known before is void */
	ts_write_file(p,
	              "3 V22222 N4 G0123456789abcdef0123456789abcdef\n"
	              "1 :1600000000.M1P9.other\n"
	              "2 :1600000001.M2P9.other\n"
	              "3 :1600000002.M3P9.other\n",
	              0);
	struct ts_sink k = { 0 };
	struct imap_sync_sink sink = { .expunged = ts_expunged, .engine = &k };
	assert_int_equal(store_view_sync(v, true, &sink, &info), IMAP_STORE_OK);
	assert_int_equal(info.uidvalidity, 22222);
	assert_int_equal(k.n, 3);
	assert_int_equal(info.exists, 3);
	for (uint32_t s = 1; s <= 3; s++) {
		struct imap_msg m;
		store_view_msg(v, s, &m);
		assert_int_equal(m.uid, s);
	}
	store_view_close(v);
}

struct ts_thread {
	const char *dir;
	int n;
	uint32_t uids[16];
};

static void *ts_appender(void *arg)
{
	struct ts_thread *a = arg;
	struct store *st = store_open(a->dir, 0); /* a session of its own */
	for (int i = 0; i < a->n; i++) {
		struct imap_append *ap;
		uint32_t uidv, uid = 0;
		if (store_append_begin(st, "INBOX", strlen(TS_MSG2), &ap) == IMAP_STORE_OK &&
		    store_append_data(ap, TS_MSG2, strlen(TS_MSG2)) == IMAP_STORE_OK &&
		    store_append_commit(ap, 0, NULL, 0, 0, 0, &uidv, &uid) == IMAP_STORE_OK)
			a->uids[i] = uid;
	}
	store_close(st);
	return NULL;
}

static void test_store_threads(void **state)
{
	struct ts *t = *state;
	struct store_view *v;
	struct imap_box_info info;
	assert_int_equal(store_view_open(t->st, "INBOX", false, &v, &info), IMAP_STORE_OK);
	enum { TS_THREADS = 4, TS_EACH = 10 };
	pthread_t th[TS_THREADS];
	struct ts_thread args[TS_THREADS];
	for (int i = 0; i < TS_THREADS; i++) {
		args[i] = (struct ts_thread){ .dir = t->dir, .n = TS_EACH };
		assert_int_equal(pthread_create(&th[i], NULL, ts_appender, &args[i]), 0);
	}
	for (int k = 0; k < 20; k++)
		assert_int_equal(store_view_sync(v, true, NULL, &info), IMAP_STORE_OK);
	for (int i = 0; i < TS_THREADS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(store_view_sync(v, true, NULL, &info), IMAP_STORE_OK);
	assert_int_equal(info.exists, TS_THREADS * TS_EACH);
	bool seen[TS_THREADS * TS_EACH + 1] = { false };
	for (int i = 0; i < TS_THREADS; i++)
		for (int k = 0; k < TS_EACH; k++) {
			uint32_t u = args[i].uids[k];
			assert_true(u >= 1 && u <= TS_THREADS * TS_EACH);
			assert_false(seen[u]);
			seen[u] = true;
		}
	for (uint32_t s = 1; s <= info.exists; s++) {
		struct imap_msg m;
		store_view_msg(v, s, &m);
		assert_int_equal(m.uid, s);
	}
	store_view_close(v);
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/dovecot-uidlist", t->dir);
	struct uidlist ul;
	assert_int_equal(uidlist_read(p, &ul), UIDLIST_OK);
	assert_int_equal(ul.n, TS_THREADS * TS_EACH);
	uidlist_free(&ul);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_list_special, ts_setup, ts_teardown),
		cmocka_unit_test_setup_teardown(test_store_append_fetch, ts_setup, ts_teardown),
		cmocka_unit_test_setup_teardown(test_store_flags, ts_setup, ts_teardown),
		cmocka_unit_test_setup_teardown(test_store_external, ts_setup, ts_teardown),
		cmocka_unit_test_setup_teardown(test_store_expunge_copy, ts_setup, ts_teardown),
		cmocka_unit_test_setup_teardown(test_store_folders, ts_setup, ts_teardown),
		cmocka_unit_test_setup_teardown(test_store_subscriptions, ts_setup, ts_teardown),
		cmocka_unit_test_setup_teardown(test_store_uidlist_persist, ts_setup, ts_teardown),
		cmocka_unit_test_setup_teardown(test_store_damaged_cache, ts_setup, ts_teardown),
		cmocka_unit_test_setup_teardown(test_store_two_views, ts_setup, ts_teardown),
		cmocka_unit_test_setup_teardown(test_store_quota, ts_setup, ts_teardown),
		cmocka_unit_test_setup_teardown(test_store_threads, ts_setup, ts_teardown),
		cmocka_unit_test_setup_teardown(test_store_foreign_uidlist, ts_setup, ts_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
