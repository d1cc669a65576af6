/*
 * cache — the folder's rebuildable memory on disk, so that opening a
 * folder of 100,000 messages reads one file instead of 100,000 (the
 * idea of Dovecot's dovecot.index / dovecot.index.cache split; the
 * Maildir and dovecot-uidlist stay the truth):
 *
 *   tern-index  every message record (UID, name, flags, MODSEQ, sizes,
 *               dates, where its strings are in tern-cache), the folder's
 *               UIDVALIDITY, next UID, HIGHESTMODSEQ, and the stamps of
 *               the directories and uidlist the records describe. Written
 *               whole (a temporary name renamed over it), CRC-checked.
 *   tern-cache  ENVELOPE, BODYSTRUCTURE and BODY strings, appended one
 *               record per message, each with its UID and a CRC.
 *
 * Purely a cache: a file missing, torn, of another version, or whose
 * CRC fails is ignored and the folder rebuilt from the Maildir; a record
 * whose UID or CRC does not match is computed again. A cache that is
 * valid but older than the directories is corrected by the sync that
 * follows (its stamps no longer match, so the directories are read).
 *
 * Neither file is fsync'ed. What that costs is MODSEQ: values handed
 * out after the last save are lost in a crash, and RFC 7162 3.1.1 says
 * HIGHESTMODSEQ never goes down. Three things keep it up: new values
 * are at least the clock in microseconds (folder.c), so they start above
 * anything given before a crash; the header has its own CRC, so a file
 * whose records are damaged still gives its HIGHESTMODSEQ as a floor;
 * and a folder loaded from here whose directories changed raises
 * HIGHESTMODSEQ once at its first scan (sync.c), whatever it finds.
 *
 * Encoding: little-endian integers, no padding, lengths before bytes.
 * Bounded: CACHE_INDEX_MAX octets of index, STORE_FOLDER_MSGS_MAX
 * records, CACHE_FILE_MAX octets of tern-cache (then it starts over).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fsutil.h"
#include "store/store_int.h"

#define CACHE_INDEX_MAGIC "TERNIDX1"
#define CACHE_INDEX_END "TERNEND1"
#define CACHE_VERSION 1u
#define CACHE_INDEX_MAX (512u * 1024 * 1024)
#define CACHE_EXT_MAX 4096u
#define CACHE_FILE_MAGIC "TERNCCH1"
#define CACHE_FILE_HDR 16u
#define CACHE_FILE_MAX (256ull * 1024 * 1024)
#define CACHE_BLOB_MAGIC 0x31424354u /* "TCB1" */
#define CACHE_BLOB_MAX (16u * 1024 * 1024)
#define CACHE_NONE 0xffffffffu

static atomic_uint cache_tmp_counter;

/* ------------------------------------------------------------ encoding */

static int cache_put(struct buf *b, uint64_t v, unsigned octets)
{
	unsigned char t[8];
	for (unsigned i = 0; i < octets; i++)
		t[i] = (unsigned char)(v >> (8 * i));
	return buf_append(b, t, octets);
}

struct cache_rd {
	const unsigned char *p;
	size_t n, off;
	bool bad;
};

static uint64_t cache_get(struct cache_rd *r, unsigned octets)
{
	if (r->bad || r->n - r->off < octets) {
		r->bad = true;
		return 0;
	}
	uint64_t v = 0;
	for (unsigned i = 0; i < octets; i++)
		v |= (uint64_t)r->p[r->off + i] << (8 * i);
	r->off += octets;
	return v;
}

static uint32_t cache_le32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;
	return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
}

static const char *cache_bytes(struct cache_rd *r, size_t n)
{
	if (r->bad || r->n - r->off < n) {
		r->bad = true;
		return NULL;
	}
	const char *s = (const char *)r->p + r->off;
	r->off += n;
	return s;
}

static void cache_put_stamp(struct buf *b, const struct store_dirstamp *s)
{
	cache_put(b, s->valid, 1);
	cache_put(b, (uint64_t)s->mtime_ns, 8);
	cache_put(b, (uint64_t)s->scan_ns, 8);
}

static void cache_get_stamp(struct cache_rd *r, struct store_dirstamp *s)
{
	s->valid = cache_get(r, 1) != 0;
	s->mtime_ns = (int64_t)cache_get(r, 8);
	s->scan_ns = (int64_t)cache_get(r, 8);
}

static int cache_index_path(const struct folder *f, char *out, size_t len)
{
	return folder_subpath(f, "tern-index", out, len);
}

/* -------------------------------------------------------------- index */

static void cache_free_msgs(struct fmsg *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(m[i].name);
	free(m);
}

bool cache_load(struct folder *f)
{
	char path[PATH_MAX];
	if (cache_index_path(f, path, sizeof path) < 0)
		return false;
	char *data = NULL;
	size_t len = 0;
	if (fsutil_read_file(path, CACHE_INDEX_MAX, &data, &len) < 0)
		return false;
	store_count_index_load();
	struct cache_rd r = { .p = (const unsigned char *)data, .n = len };
	const char *magic = cache_bytes(&r, 8);
	if (magic == NULL || memcmp(magic, CACHE_INDEX_MAGIC, 8) != 0 || cache_get(&r, 4) != CACHE_VERSION) {
		free(data);
		return false;
	}
	uint32_t uidvalidity = (uint32_t)cache_get(&r, 4), uidnext = (uint32_t)cache_get(&r, 4);
	uint64_t hms = cache_get(&r, 8);
	const char *guid = cache_bytes(&r, 32);
	struct store_fileid ul_id;
	ul_id.valid = cache_get(&r, 1) != 0;
	ul_id.dev = cache_get(&r, 8);
	ul_id.ino = cache_get(&r, 8);
	ul_id.size = cache_get(&r, 8);
	ul_id.mtime_ns = (int64_t)cache_get(&r, 8);
	uint32_t ul_records = (uint32_t)cache_get(&r, 4);
	bool ul_appendable = cache_get(&r, 1) != 0;
	struct store_dirstamp sn, sc;
	cache_get_stamp(&r, &sn);
	cache_get_stamp(&r, &sc);
	uint64_t cache_id = cache_get(&r, 8), cache_end = cache_get(&r, 8);
	uint32_t n = (uint32_t)cache_get(&r, 4), extlen = (uint32_t)cache_get(&r, 4);
	const char *ext = extlen <= CACHE_EXT_MAX ? cache_bytes(&r, extlen) : NULL;
	size_t hdr_end = r.off;
	uint32_t hcrc = (uint32_t)cache_get(&r, 4);
	if (r.bad || ext == NULL || hcrc != store_crc32(0, data, hdr_end)) {
		free(data);
		return false;
	}
	/* The header stands on its own: its HIGHESTMODSEQ is a floor even
	 * if the records turn out damaged. */
	if (hms > f->highestmodseq)
		f->highestmodseq = hms;
	if (len < r.off + 12 || memcmp(data + len - 8, CACHE_INDEX_END, 8) != 0 ||
	    store_crc32(0, data, len - 12) != cache_le32(data + len - 12) ||
	    uidvalidity == 0 || n > STORE_FOLDER_MSGS_MAX || (size_t)n > len / 40) {
		free(data);
		return false;
	}
	r.n = len - 12;
	struct fmsg *msgs = calloc(n ? n : 1, sizeof *msgs);
	if (msgs == NULL) {
		free(data);
		return false;
	}
	uint32_t prev = 0;
	size_t got = 0;
	bool ok = true;
	for (; got < n && ok; got++) {
		struct fmsg *m = &msgs[got];
		m->uid = (uint32_t)cache_get(&r, 4);
		m->kw = (imap_keywords)cache_get(&r, 4);
		m->flags = (uint8_t)(cache_get(&r, 1) & (IMAP_FLAGS_SYSTEM | IMAP_FLAG_PASSED));
		m->state = (uint8_t)(cache_get(&r, 1) & FM_PERSIST);
		m->sent_tz = (int16_t)cache_get(&r, 2);
		m->blob_len = (uint32_t)cache_get(&r, 4);
		m->modseq = cache_get(&r, 8);
		m->vsize = cache_get(&r, 8);
		m->idate = (int64_t)cache_get(&r, 8);
		m->sent = (int64_t)cache_get(&r, 8);
		m->blob_off = cache_get(&r, 8);
		uint32_t nl = (uint32_t)cache_get(&r, 2), el = (uint32_t)cache_get(&r, 2);
		const char *nm = cache_bytes(&r, nl);
		const char *ex = cache_bytes(&r, el);
		char name[NAME_MAX + 1];
		ok = !r.bad && m->uid > prev && m->uid < uidnext && nl > 0 && nl <= NAME_MAX && el <= CACHE_EXT_MAX &&
		     m->blob_len <= CACHE_BLOB_MAX;
		if (ok) {
			memcpy(name, nm, nl);
			name[nl] = '\0';
			ok = strlen(name) == nl && mfname_ok(name) && memchr(ex, '\0', el) == NULL;
		}
		char *e = NULL;
		if (ok && el) {
			e = malloc(el + 1);
			ok = e != NULL;
			if (ok) {
				memcpy(e, ex, el);
				e[el] = '\0';
			}
		}
		m->state &= (uint8_t)~FM_EXT;
		if (ok)
			ok = fmsg_set_name(m, name, e) == 0;
		free(e);
		prev = m->uid;
		if (ok && m->modseq > hms)
			hms = m->modseq;
	}
	if (!ok || r.off != r.n) {
		cache_free_msgs(msgs, got);
		free(data);
		return false;
	}
	char *hx = NULL;
	if (extlen) {
		hx = malloc(extlen + 1);
		if (hx == NULL) {
			cache_free_msgs(msgs, n);
			free(data);
			return false;
		}
		memcpy(hx, ext, extlen);
		hx[extlen] = '\0';
	}
	for (size_t i = 0; i < f->n; i++)
		free(f->msgs[i].name);
	free(f->msgs);
	f->msgs = msgs;
	f->n = n;
	f->cap = n ? n : 1;
	f->uidvalidity = uidvalidity;
	f->uidnext = uidnext;
	memcpy(f->guid, guid, 32);
	f->guid[32] = '\0';
	if (strspn(f->guid, "0123456789abcdefABCDEF") != 32)
		f->guid[0] = '\0';
	free(f->hdr_ext);
	f->hdr_ext = hx;
	f->ul_id = ul_id;
	f->ul_records = ul_records;
	f->ul_appendable = ul_appendable;
	f->st_new = sn;
	f->st_cur = sc;
	f->cache_id = cache_id;
	f->cache_end = cache_end;
	if (hms > f->highestmodseq)
		f->highestmodseq = hms;
	f->bump_on_scan = true;
	f->dirty = false;
	f->saved_ns = store_now_ns();
	free(data);
	return true;
}

static int cache_encode(const struct folder *f, struct buf *b)
{
	buf_append(b, CACHE_INDEX_MAGIC, 8);
	cache_put(b, CACHE_VERSION, 4);
	cache_put(b, f->uidvalidity, 4);
	cache_put(b, f->uidnext, 4);
	cache_put(b, f->highestmodseq, 8);
	char guid[32] = { 0 };
	memcpy(guid, f->guid, strnlen(f->guid, 32));
	buf_append(b, guid, 32);
	cache_put(b, f->ul_id.valid, 1);
	cache_put(b, f->ul_id.dev, 8);
	cache_put(b, f->ul_id.ino, 8);
	cache_put(b, f->ul_id.size, 8);
	cache_put(b, (uint64_t)f->ul_id.mtime_ns, 8);
	cache_put(b, f->ul_records, 4);
	cache_put(b, f->ul_appendable, 1);
	cache_put_stamp(b, &f->st_new);
	cache_put_stamp(b, &f->st_cur);
	cache_put(b, f->cache_id, 8);
	cache_put(b, f->cache_end, 8);
	cache_put(b, f->n, 4);
	size_t el = f->hdr_ext ? strlen(f->hdr_ext) : 0;
	if (el > CACHE_EXT_MAX)
		el = 0;
	cache_put(b, el, 4);
	buf_append(b, f->hdr_ext ? f->hdr_ext : "", el);
	cache_put(b, store_crc32(0, b->data, b->len), 4);
	for (size_t i = 0; i < f->n; i++) {
		const struct fmsg *m = &f->msgs[i];
		const char *ext = fmsg_ext(m);
		size_t nl = strlen(m->name), xl = ext ? strlen(ext) : 0;
		if (xl > CACHE_EXT_MAX)
			xl = 0;
		cache_put(b, m->uid, 4);
		cache_put(b, m->kw, 4);
		cache_put(b, m->flags, 1);
		cache_put(b, m->state & FM_PERSIST & ~FM_EXT, 1);
		cache_put(b, (uint16_t)m->sent_tz, 2);
		cache_put(b, m->blob_len, 4);
		cache_put(b, m->modseq, 8);
		cache_put(b, m->vsize, 8);
		cache_put(b, (uint64_t)m->idate, 8);
		cache_put(b, (uint64_t)m->sent, 8);
		cache_put(b, m->blob_off, 8);
		cache_put(b, nl, 2);
		cache_put(b, xl, 2);
		buf_append(b, m->name, nl);
		if (buf_append(b, ext ? ext : "", xl) < 0)
			return -1;
	}
	cache_put(b, store_crc32(0, b->data, b->len), 4);
	return buf_append(b, CACHE_INDEX_END, 8);
}

void cache_save(struct folder *f, bool force)
{
	if (!f->dirty || f->vanished || f->uidvalidity == 0)
		return;
	int64_t now = store_now_ns();
	if (!force && now - f->saved_ns < STORE_SAVE_NS)
		return;
	char path[PATH_MAX], tmp[PATH_MAX];
	if (cache_index_path(f, path, sizeof path) < 0)
		return;
	int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u", path, (long)getpid(),
	                 atomic_fetch_add(&cache_tmp_counter, 1));
	if (n < 0 || (size_t)n >= sizeof tmp)
		return;
	struct buf b;
	buf_init(&b, CACHE_INDEX_MAX);
	if (cache_encode(f, &b) < 0) {
		buf_free(&b);
		return;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, STORE_FILE_MODE);
	if (fd < 0) {
		buf_free(&b);
		return;
	}
	/* No fsync: see the top of this file. */
	int rc = fsutil_write_all(fd, b.data, b.len);
	if (close(fd) < 0)
		rc = -1;
	buf_free(&b);
	if (rc < 0 || rename(tmp, path) < 0) {
		unlink(tmp);
		return;
	}
	f->dirty = false;
	f->saved_ns = now;
}

/* -------------------------------------------------------------- blobs */

static uint64_t cache_new_id(void)
{
	uint64_t id = 0;
	if (getrandom(&id, sizeof id, GRND_NONBLOCK) != (ssize_t)sizeof id)
		id = (uint64_t)store_now_ns() ^ ((uint64_t)getpid() << 32);
	return id ? id : 1;
}

/* Forget every blob reference and begin the file again. */
static int cache_restart(struct folder *f)
{
	unsigned char h[CACHE_FILE_HDR];
	uint64_t id = cache_new_id();
	memcpy(h, CACHE_FILE_MAGIC, 8);
	for (int i = 0; i < 8; i++)
		h[8 + i] = (unsigned char)(id >> (8 * i));
	if (ftruncate(f->cache_fd, 0) < 0 || fsutil_write_all(f->cache_fd, h, sizeof h) < 0)
		return -1;
	f->cache_id = id;
	f->cache_end = CACHE_FILE_HDR;
	for (size_t i = 0; i < f->n; i++)
		f->msgs[i].blob_len = 0;
	for (size_t i = 0; i < f->ngraves; i++)
		f->graves[i].m.blob_len = 0;
	f->dirty = true;
	return 0;
}

static int cache_open(struct folder *f)
{
	if (f->cache_fd >= 0)
		return 0;
	char path[PATH_MAX];
	if (folder_subpath(f, "tern-cache", path, sizeof path) < 0)
		return -1;
	int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, STORE_FILE_MODE);
	if (fd < 0)
		return -1;
	f->cache_fd = fd;
	unsigned char h[CACHE_FILE_HDR];
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		f->cache_fd = -1;
		return -1;
	}
	if (fsutil_pread_all(fd, h, sizeof h, 0) != (ssize_t)sizeof h || memcmp(h, CACHE_FILE_MAGIC, 8) != 0 ||
	    (uint64_t)st.st_size > CACHE_FILE_MAX)
		return cache_restart(f);
	uint64_t id = 0;
	for (int i = 0; i < 8; i++)
		id |= (uint64_t)h[8 + i] << (8 * i);
	if (id != f->cache_id) {
		/* Another file than the index knew: its records are not ours. */
		for (size_t i = 0; i < f->n; i++)
			f->msgs[i].blob_len = 0;
		f->cache_id = id;
		f->dirty = true;
	}
	f->cache_end = (uint64_t)st.st_size;
	return 0;
}

void cache_close(struct folder *f)
{
	if (f->cache_fd >= 0)
		close(f->cache_fd);
	f->cache_fd = -1;
}

void cache_blob_free(struct cache_blob *b)
{
	free(b->env);
	free(b->bs);
	free(b->body);
	memset(b, 0, sizeof *b);
}

bool cache_blob_read(struct folder *f, const struct fmsg *m, struct cache_blob *b)
{
	memset(b, 0, sizeof *b);
	if (m->blob_len < 24 || m->blob_len > CACHE_BLOB_MAX || cache_open(f) < 0)
		return false;
	char *p = malloc(m->blob_len);
	if (p == NULL)
		return false;
	if (fsutil_pread_all(f->cache_fd, p, m->blob_len, (off_t)m->blob_off) != (ssize_t)m->blob_len) {
		free(p);
		return false;
	}
	struct cache_rd r = { .p = (const unsigned char *)p, .n = m->blob_len };
	uint32_t magic = (uint32_t)cache_get(&r, 4), uid = (uint32_t)cache_get(&r, 4);
	uint32_t lens[3];
	uint64_t total = 24;
	for (int i = 0; i < 3; i++) {
		lens[i] = (uint32_t)cache_get(&r, 4);
		if (lens[i] != CACHE_NONE)
			total += lens[i];
	}
	uint32_t crc = (uint32_t)cache_get(&r, 4);
	bool ok = !r.bad && magic == CACHE_BLOB_MAGIC && uid == m->uid && total == m->blob_len;
	/* the CRC covers the lengths and the strings */
	if (ok) {
		uint32_t c = store_crc32(0, p + 8, 12);
		c = store_crc32(c, p + 24, m->blob_len - 24);
		ok = c == crc;
	}
	char **dst[3] = { &b->env, &b->bs, &b->body };
	for (int i = 0; i < 3 && ok; i++) {
		if (lens[i] == CACHE_NONE)
			continue;
		const char *s = cache_bytes(&r, lens[i]);
		char *d = s ? malloc((size_t)lens[i] + 1) : NULL;
		if (d == NULL) {
			ok = false;
			break;
		}
		memcpy(d, s, lens[i]);
		d[lens[i]] = '\0';
		*dst[i] = d;
	}
	free(p);
	if (!ok)
		cache_blob_free(b);
	return ok;
}

void cache_blob_write(struct folder *f, struct fmsg *m, const struct cache_blob *b)
{
	if (cache_open(f) < 0)
		return;
	if (f->cache_end > CACHE_FILE_MAX && cache_restart(f) < 0)
		return;
	const char *s[3] = { b->env, b->bs, b->body };
	uint32_t lens[3];
	uint64_t total = 24;
	for (int i = 0; i < 3; i++) {
		size_t l = s[i] ? strlen(s[i]) : 0;
		lens[i] = s[i] && l < CACHE_BLOB_MAX ? (uint32_t)l : CACHE_NONE;
		if (lens[i] != CACHE_NONE)
			total += lens[i];
	}
	if (total > CACHE_BLOB_MAX)
		return;
	struct buf rec;
	buf_init(&rec, CACHE_BLOB_MAX);
	cache_put(&rec, CACHE_BLOB_MAGIC, 4);
	cache_put(&rec, m->uid, 4);
	for (int i = 0; i < 3; i++)
		cache_put(&rec, lens[i], 4);
	cache_put(&rec, 0, 4); /* the CRC, below */
	for (int i = 0; i < 3; i++)
		if (lens[i] != CACHE_NONE)
			buf_append(&rec, s[i], lens[i]);
	if (rec.len != total) {
		buf_free(&rec);
		return;
	}
	uint32_t c = store_crc32(0, rec.data + 8, 12);
	c = store_crc32(c, rec.data + 24, rec.len - 24);
	for (int i = 0; i < 4; i++)
		rec.data[20 + i] = (char)(c >> (8 * i));
	/* O_APPEND: one write lands whole at the end, whoever else appends */
	ssize_t w = write(f->cache_fd, rec.data, rec.len);
	off_t end = w == (ssize_t)rec.len ? lseek(f->cache_fd, 0, SEEK_CUR) : -1;
	if (end >= (off_t)rec.len) {
		m->blob_off = (uint64_t)end - rec.len;
		m->blob_len = (uint32_t)rec.len;
		f->cache_end = (uint64_t)end;
		f->dirty = true;
	}
	buf_free(&rec);
}
