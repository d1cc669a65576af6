/*
 * uidlist — dovecot-uidlist, the file that gives a folder its IMAP
 * identity (RFC 9051 2.3.1.1: UIDs and UIDVALIDITY), shared with Dovecot.
 *
 * Format (Dovecot's version 3, which Dovecot 1.1 and later write):
 *   3 V<uidvalidity> N<nextuid> G<32 hex digits>[ <key><value>...]
 *   <uid>[ <key><value>...] :<base name>
 * one record per line, UIDs ascending. Record fields are an upper-case
 * key and a value: W (vsize), S (file size), G (message GUID), P (POP3
 * UIDL), O (POP3 order); they are kept as they are, since other readers
 * depend on them. Version 1 ("1 <uidvalidity> <nextuid>" then
 * "<uid> <name>") is read too. A name may carry ":2,flags"; only the
 * base (before the first ':') identifies the file. The same base listed
 * again with a higher UID replaces the earlier record (Dovecot appends
 * such a line when an expunged name reappears).
 *
 * Writers hold dovecot-uidlist.lock. New records are appended to the
 * file we last read or wrote; anything else (a changed UID, a damaged or
 * missing file, many records of expunged messages) rewrites it whole
 * under dovecot-uidlist.tmp, renamed over it with a later mtime than
 * the old one's (readers notice a change by inode, size and mtime).
 * Both are fdatasync'ed: a UID told to a client must not be given to
 * another message after a crash.
 *
 * Bounded: at most UIDLIST_FILE_MAX octets, lines of UIDLIST_LINE_MAX,
 * STORE_FOLDER_MSGS_MAX records; past any of them the file is damaged
 * and the folder's own state rewrites it. Damage is salvaged where it
 * can be: a record line that cannot be read (too long, garbage, a UID
 * out of order) is skipped and the others kept, and the answer is
 * UIDLIST_DAMAGED with the header and those records filled in, so that
 * UIDVALIDITY and the UIDs that survive stay what clients know. Only a
 * header that cannot be read leaves nothing (uidvalidity 0).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fsutil.h"
#include "store/store_int.h"

#define UIDLIST_FILE_MAX (256u * 1024 * 1024)
#define UIDLIST_LINE_MAX (16 * 1024)
#define UIDLIST_STRS_MAX (192u * 1024 * 1024)

uint64_t store_hash_base(const char *s, size_t n)
{
	uint64_t h = 14695981039346656037ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

void uidlist_free(struct uidlist *ul)
{
	free(ul->hdr_ext);
	free(ul->recs);
	free(ul->strs);
	free(ul->hash);
	memset(ul, 0, sizeof *ul);
}

static bool uidlist_parse_u32(const char *s, size_t n, uint32_t *out)
{
	if (n == 0 || n > 10)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

static int uidlist_strs_add(struct uidlist *ul, const char *s, size_t n, uint32_t *off)
{
	if (ul->slen + n + 1 > UIDLIST_STRS_MAX)
		return -1;
	if (ul->slen + n + 1 > ul->scap) {
		size_t nc = ul->scap ? ul->scap * 2 : 4096;
		while (nc < ul->slen + n + 1)
			nc *= 2;
		char *ns = realloc(ul->strs, nc);
		if (ns == NULL)
			return -1;
		ul->strs = ns;
		ul->scap = nc;
	}
	memcpy(ul->strs + ul->slen, s, n);
	ul->strs[ul->slen + n] = '\0';
	*off = (uint32_t)ul->slen;
	ul->slen += n + 1;
	return 0;
}

static size_t uidlist_slot(const struct uidlist *ul, const char *base, size_t blen, bool *found)
{
	size_t mask = ul->hcap - 1;
	size_t i = (size_t)store_hash_base(base, blen) & mask;
	for (;;) {
		uint32_t v = ul->hash[i];
		if (v == 0) {
			*found = false;
			return i;
		}
		const struct uidlist_rec *r = &ul->recs[v - 1];
		if (r->base_len == blen && memcmp(ul->strs + r->base_off, base, blen) == 0) {
			*found = true;
			return i;
		}
		i = (i + 1) & mask;
	}
}

static int uidlist_hash_grow(struct uidlist *ul)
{
	size_t nc = ul->hcap ? ul->hcap * 2 : 1024;
	uint32_t *old = ul->hash;
	size_t oldcap = ul->hcap;
	ul->hash = calloc(nc, sizeof *ul->hash);
	if (ul->hash == NULL) {
		ul->hash = old;
		return -1;
	}
	ul->hcap = nc;
	for (size_t i = 0; i < oldcap; i++) {
		if (old[i] == 0)
			continue;
		const struct uidlist_rec *r = &ul->recs[old[i] - 1];
		bool found;
		size_t s = uidlist_slot(ul, ul->strs + r->base_off, r->base_len, &found);
		ul->hash[s] = old[i];
	}
	free(old);
	return 0;
}

const struct uidlist_rec *uidlist_find(const struct uidlist *ul, const char *base, size_t blen)
{
	if (ul->hcap == 0)
		return NULL;
	bool found;
	size_t s = uidlist_slot(ul, base, blen, &found);
	return found ? &ul->recs[ul->hash[s] - 1] : NULL;
}

/* The first line. 0, or -1 when damaged. */
static int uidlist_header(struct uidlist *ul, const char *line, size_t n)
{
	if (n < 2 || line[0] < '0' || line[0] > '9' || line[1] != ' ')
		return -1;
	ul->version = (unsigned)(line[0] - '0');
	const char *p = line + 2, *end = line + n;
	if (ul->version == 1) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		if (sp == NULL || !uidlist_parse_u32(p, (size_t)(sp - p), &ul->uidvalidity) ||
		    !uidlist_parse_u32(sp + 1, (size_t)(end - sp - 1), &ul->nextuid))
			return -1;
	} else if (ul->version == 3) {
		struct buf ext;
		buf_init(&ext, 4096);
		while (p < end) {
			while (p < end && *p == ' ')
				p++;
			if (p == end)
				break;
			const char *t = p;
			while (p < end && *p != ' ')
				p++;
			size_t tn = (size_t)(p - t);
			bool ok = true;
			if (t[0] == 'V')
				ok = uidlist_parse_u32(t + 1, tn - 1, &ul->uidvalidity);
			else if (t[0] == 'N')
				ok = uidlist_parse_u32(t + 1, tn - 1, &ul->nextuid);
			else if (t[0] == 'G') {
				/* the line is not NUL-terminated: look at the 32 octets only */
				ok = tn == 33;
				for (size_t k = 1; ok && k < tn; k++)
					ok = strchr("0123456789abcdefABCDEF", t[k]) != NULL && t[k] != '\0';
				if (ok) {
					memcpy(ul->guid, t + 1, 32);
					ul->guid[32] = '\0';
				}
			} else if (t[0] >= 'A' && t[0] <= 'Z') {
				if ((ext.len && buf_putc(&ext, ' ') < 0) || buf_append(&ext, t, tn) < 0)
					ok = false;
			}
			if (!ok) {
				buf_free(&ext);
				return -1;
			}
		}
		if (ext.len) {
			ul->hdr_ext = strdup(ext.data);
			if (ul->hdr_ext == NULL) {
				buf_free(&ext);
				return -1;
			}
		}
		buf_free(&ext);
	} else {
		return -1;
	}
	return ul->uidvalidity == 0 || ul->nextuid == 0 ? -1 : 0;
}

/* One record line. 0, or -1 when damaged. */
static int uidlist_record(struct uidlist *ul, const char *line, size_t n, uint32_t *prev)
{
	size_t i = 0;
	while (i < n && line[i] >= '0' && line[i] <= '9')
		i++;
	uint32_t uid;
	if (i == n || line[i] != ' ' || !uidlist_parse_u32(line, i, &uid) || uid == 0 || uid == UINT32_MAX ||
	    uid <= *prev)
		return -1;
	while (i < n && line[i] == ' ')
		i++;
	size_t ext_start = i, ext_end = i;
	if (ul->version == 3) {
		/* fields up to the ':' that starts the name */
		while (i < n && line[i] != ':') {
			if (line[i] < 'A' || line[i] > 'Z')
				return -1;
			while (i < n && line[i] != ' ')
				i++;
			ext_end = i;
			while (i < n && line[i] == ' ')
				i++;
		}
		if (i == n)
			return -1;
		i++; /* ':' */
	}
	const char *name = line + i;
	size_t nn = n - i;
	if (nn == 0 || memchr(name, '/', nn) != NULL || memchr(name, '\0', nn) != NULL)
		return -1;
	size_t blen = 0;
	while (blen < nn && name[blen] != ':')
		blen++;
	if (blen == 0 || blen > NAME_MAX)
		return -1;
	if (ul->n >= STORE_FOLDER_MSGS_MAX)
		return -1;
	if (ul->n == ul->cap) {
		size_t nc = ul->cap ? ul->cap * 2 : 256;
		struct uidlist_rec *nr = realloc(ul->recs, nc * sizeof *nr);
		if (nr == NULL)
			return -2;
		ul->recs = nr;
		ul->cap = nc;
	}
	if ((ul->n + 1) * 2 > ul->hcap && uidlist_hash_grow(ul) < 0)
		return -2;
	struct uidlist_rec *r = &ul->recs[ul->n];
	memset(r, 0, sizeof *r);
	r->uid = uid;
	r->base_len = (uint16_t)blen;
	if (uidlist_strs_add(ul, name, blen, &r->base_off) < 0)
		return -1;
	if (ext_end > ext_start) {
		if (ext_end - ext_start > UINT16_MAX ||
		    uidlist_strs_add(ul, line + ext_start, ext_end - ext_start, &r->ext_off) < 0)
			return -1;
		r->ext_len = (uint16_t)(ext_end - ext_start);
	}
	bool found;
	size_t s = uidlist_slot(ul, name, blen, &found);
	if (found)
		ul->recs[ul->hash[s] - 1].uid = 0; /* superseded */
	ul->n++;
	ul->hash[s] = (uint32_t)ul->n;
	if (uid > ul->maxuid)
		ul->maxuid = uid;
	*prev = uid;
	return 0;
}

enum uidlist_status uidlist_read(const char *path, struct uidlist *ul)
{
	memset(ul, 0, sizeof *ul);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return UIDLIST_MISSING;
		return errno == ELOOP ? UIDLIST_DAMAGED : UIDLIST_ERROR;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return UIDLIST_ERROR;
	}
	store_fileid_of(&st, &ul->id);
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > UIDLIST_FILE_MAX) {
		close(fd);
		return UIDLIST_DAMAGED;
	}
	char *rbuf = malloc(STORE_IO_CHUNK);
	char *line = malloc(UIDLIST_LINE_MAX);
	if (rbuf == NULL || line == NULL) {
		free(rbuf);
		free(line);
		close(fd);
		return UIDLIST_ERROR;
	}
	enum uidlist_status rc = UIDLIST_OK;
	size_t ll = 0, lines = 0;
	uint64_t total = 0;
	uint32_t prev = 0;
	bool overlong = false, damaged = false;
	for (;;) {
		ssize_t r = read(fd, rbuf, STORE_IO_CHUNK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = UIDLIST_ERROR;
			break;
		}
		if (r == 0)
			break; /* a last line without LF is a torn write: ignored */
		total += (uint64_t)r;
		if (total > UIDLIST_FILE_MAX) {
			damaged = true;
			break;
		}
		for (ssize_t i = 0; i < r && rc == UIDLIST_OK; i++) {
			char c = rbuf[i];
			if (c != '\n') {
				if (ll >= UIDLIST_LINE_MAX)
					overlong = true; /* the rest of it is skipped */
				else
					line[ll++] = c;
				continue;
			}
			int ok = overlong ? -1
			         : lines == 0 ? uidlist_header(ul, line, ll)
			                      : uidlist_record(ul, line, ll, &prev);
			if (ok == -2)
				rc = UIDLIST_ERROR;
			else if (ok < 0 && lines == 0)
				rc = UIDLIST_DAMAGED; /* no header: nothing can be believed */
			else if (ok < 0)
				damaged = true; /* this record is lost; the others stand */
			lines++;
			ll = 0;
			overlong = false;
		}
		if (rc != UIDLIST_OK)
			break;
	}
	free(rbuf);
	free(line);
	close(fd);
	if (rc == UIDLIST_OK && lines == 0)
		rc = UIDLIST_DAMAGED; /* empty */
	if (rc != UIDLIST_OK) {
		struct store_fileid id = ul->id;
		uidlist_free(ul);
		ul->id = id;
		return rc;
	}
	if (ul->nextuid <= ul->maxuid)
		ul->nextuid = ul->maxuid + 1;
	return damaged ? UIDLIST_DAMAGED : UIDLIST_OK;
}

/* ---- writing ---- */

static int uidlist_put_rec(struct buf *b, const struct fmsg *m)
{
	const char *ext = fmsg_ext(m);
	size_t blen = mfname_base_len(m->name);
	if (buf_printf(b, "%u", m->uid) < 0)
		return -1;
	if (ext && *ext && (buf_putc(b, ' ') < 0 || buf_puts(b, ext) < 0))
		return -1;
	if (buf_puts(b, " :") < 0 || buf_append(b, m->name, blen) < 0 || buf_putc(b, '\n') < 0)
		return -1;
	return 0;
}

static int uidlist_flush_buf(int fd, struct buf *b, bool force)
{
	if (b->len == 0 || (!force && b->len < STORE_IO_CHUNK))
		return 0;
	if (fsutil_write_all(fd, b->data, b->len) < 0)
		return -1;
	buf_reset(b);
	return 0;
}

static void uidlist_new_guid(char out[33])
{
	unsigned char r[16];
	size_t got = 0;
	while (got < sizeof r) {
		ssize_t k = getrandom(r + got, sizeof r - got, 0);
		if (k <= 0) {
			/* no entropy source: time and address still make it unique enough for a mailbox id */
			uint64_t t = (uint64_t)store_now_ns() ^ (uint64_t)(uintptr_t)out;
			for (size_t i = got; i < sizeof r; i++)
				r[i] = (unsigned char)(t >> ((i % 8) * 8));
			break;
		}
		got += (size_t)k;
	}
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[r[i] >> 4];
		out[2 * i + 1] = hex[r[i] & 15];
	}
	out[32] = '\0';
}

/* The records m[0..n) through b into fd. 0 or -1. */
static int uidlist_write_recs(int fd, struct buf *b, const struct fmsg *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (uidlist_put_rec(b, &m[i]) < 0 || uidlist_flush_buf(fd, b, false) < 0)
			return -1;
	return 0;
}

/* The end of a write: what b holds, then the data on disk; *st is the
 * file's new identity. 0 or -1. */
static int uidlist_finish(int fd, struct buf *b, struct stat *st)
{
	if (uidlist_flush_buf(fd, b, true) < 0 || fsutil_fdatasync(fd) < 0 || fstat(fd, st) < 0)
		return -1;
	return 0;
}

static int uidlist_append(struct folder *f, const char *path, const struct fmsg *add, size_t nadd)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	struct buf b;
	buf_init(&b, 0);
	struct stat st;
	int rc = uidlist_write_recs(fd, &b, add, nadd);
	if (rc == 0)
		rc = uidlist_finish(fd, &b, &st);
	int e = errno;
	buf_free(&b);
	close(fd);
	if (rc == 0) {
		store_fileid_of(&st, &f->ul_id);
		f->ul_records += (uint32_t)nadd;
	}
	errno = e;
	return rc;
}

static int uidlist_recreate(struct folder *f, const char *path, const struct fmsg *add, size_t nadd)
{
	char tmp[PATH_MAX];
	int n = snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (f->guid[0] == '\0')
		uidlist_new_guid(f->guid);
	int64_t old_mtime = 0;
	struct stat ost;
	if (stat(path, &ost) == 0)
		old_mtime = store_stat_mtime_ns(&ost);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, STORE_FILE_MODE);
	if (fd < 0)
		return -1;
	struct buf b;
	buf_init(&b, 0);
	int rc = buf_printf(&b, "3 V%u N%u G%s", f->uidvalidity, f->uidnext, f->guid);
	if (rc == 0 && f->hdr_ext && *f->hdr_ext)
		rc = buf_putc(&b, ' ') < 0 || buf_puts(&b, f->hdr_ext) < 0 ? -1 : 0;
	if (rc == 0)
		rc = buf_putc(&b, '\n');
	if (rc == 0)
		rc = uidlist_write_recs(fd, &b, f->msgs, f->n);
	if (rc == 0)
		rc = uidlist_write_recs(fd, &b, add, nadd);
	struct stat st;
	if (rc == 0)
		rc = uidlist_finish(fd, &b, &st);
	if (rc == 0 && store_stat_mtime_ns(&st) <= old_mtime) {
		/* Readers tell versions apart by mtime too: it must grow. */
		int64_t t = old_mtime + 1000000;
		struct timespec ts[2] = { { .tv_sec = 0, .tv_nsec = UTIME_OMIT },
		                          { .tv_sec = t / 1000000000LL, .tv_nsec = t % 1000000000LL } };
		if (futimens(fd, ts) < 0 || fstat(fd, &st) < 0)
			rc = -1;
	}
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -1;
	int e = errno;
	buf_free(&b);
	close(fd);
	if (rc < 0) {
		unlink(tmp);
		errno = e;
		return -1;
	}
	if (fsutil_fsync_dir(f->path) < 0)
		return -1;
	store_fileid_of(&st, &f->ul_id);
	f->ul_records = (uint32_t)(f->n + nadd);
	f->ul_appendable = true;
	return 0;
}

int uidlist_write(struct folder *f, const struct fmsg *add, size_t nadd, size_t from, bool append)
{
	char path[PATH_MAX];
	if (folder_subpath(f, "dovecot-uidlist", path, sizeof path) < 0)
		return -1;
	if (from > nadd)
		from = nadd;
	if (append && f->ul_appendable && f->ul_id.valid) {
		struct stat st;
		if (stat(path, &st) == 0 && store_fileid_eq(&f->ul_id, &st))
			return from == nadd ? 0 : uidlist_append(f, path, add + from, nadd - from);
	}
	return uidlist_recreate(f, path, add, nadd);
}
