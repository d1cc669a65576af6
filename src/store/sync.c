/*
 * sync — brings a folder in memory up to date with its Maildir, which
 * other programs change at any time: tern's delivery adds files to new/,
 * POP3 sessions rename and delete, Dovecot and mutt rename for flags
 * and write dovecot-uidlist.
 *
 * One pass (caller holds f->mu):
 *   1. stat new/, cur/ and dovecot-uidlist; a directory whose mtime is
 *      what the last scan saw, and that scan began STORE_TRUST_NS or
 *      more after that mtime, is known unchanged and not read (an mtime
 *      only says "changed" at the file system's granularity, coarse on
 *      ext4 and NFS: a change in the same tick as our scan would hide);
 *   2. read the directories that may have changed and match every file
 *      to a message by its base name (mfname.c): a new full name is a
 *      flag change (a new MODSEQ, RFC 7162 3.1), a known file not found
 *      is an expunge, an unknown file is new. A directory whose mtime
 *      moved while it was read is not believed about what is missing
 *      (a rename during readdir may hide an entry): read again next time;
 *   3. new files, or a uidlist another program rewrote, are handled
 *      under dovecot-uidlist.lock: the uidlist is read again if it
 *      changed (Dovecot may have numbered our new files already: they
 *      keep its UIDs), then the rest get UIDs from the next UID on, in
 *      delivery order, and their records are appended (or the file
 *      rewritten) and made durable before anyone is told a UID;
 *   4. read-write sessions move new/ files to cur/ (adding ":2,"), the
 *      Maildir way of saying a client has seen them arrive; \Recent
 *      stays in memory (RFC 3501 2.3.2), never on disk.
 * RFC822.SIZE of a new file is ,W= of its name when present, else the
 * file is read once (store_measure_fd); INTERNALDATE is its mtime.
 *
 * UIDs are stable across all of it: a file renamed keeps its UID (the
 * base does not change), the same base found again is the same
 * message. A uidlist whose UIDVALIDITY changed under us (recreated by
 * another program) makes everything known void: the folder is emptied
 * and read again from the file.
 *
 * Does not: tell views anything itself (folder_remove_marked does), or
 * flush directories (views' flush does, for their own changes).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/crlf.h"
#include "base/fsutil.h"
#include "store/store_int.h"

#define SYNC_TMP_STALE_SECS (36 * 3600) /* Maildir: tmp/ files older than this are leftovers */
#define SYNC_RESTART 1

struct sync_ent {
	char *name;            /* owned */
	bool in_new;
};

struct sync_new {
	char *name;            /* owned */
	bool in_new;
	uint32_t uid;          /* 0 until assigned */
	const char *ext;       /* the uidlist record's fields (in the uidlist read), or NULL */
	uint64_t vsize;
	int64_t idate;
};

struct sync_ctx {
	struct sync_ent *ents;
	size_t nents, capents;
	struct sync_new *nw;
	size_t nnew, capnew;
	uint64_t modseq;       /* one value for every change of this pass, made when first needed */
};

/* ------------------------------------------------------------ sizes */

int store_measure_fd(int fd, uint64_t *vsize)
{
	char *b = malloc(STORE_IO_CHUNK);
	if (b == NULL)
		return -1;
	uint64_t off = 0, v = 0;
	struct crlf_state cr = {false};
	store_count_msg_open();
	for (;;) {
		ssize_t r = pread(fd, b, STORE_IO_CHUNK, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(b);
			errno = e;
			return -1;
		}
		if (r == 0)
			break;
		v += crlf_wire_len(&cr, b, (size_t)r); /* as the engine sends it */
		off += (uint64_t)r;
	}
	free(b);
	*vsize = v;
	return 0;
}

/* ----------------------------------------------------------- helpers */

static uint64_t sync_modseq(struct folder *f, struct sync_ctx *c)
{
	if (c->modseq == 0)
		c->modseq = folder_modseq_next(f);
	return c->modseq;
}

static bool sync_stamp_fresh(const struct store_dirstamp *s, int64_t mtime)
{
	return s->valid && s->mtime_ns == mtime && s->scan_ns - s->mtime_ns >= STORE_TRUST_NS;
}

static void sync_ctx_free(struct sync_ctx *c)
{
	for (size_t i = 0; i < c->nents; i++)
		free(c->ents[i].name);
	free(c->ents);
	for (size_t i = 0; i < c->nnew; i++)
		free(c->nw[i].name);
	free(c->nw);
	memset(c, 0, sizeof *c);
}

static int sync_push_new(struct sync_ctx *c, char *name, bool in_new, uint64_t vsize, int64_t idate)
{
	if (c->nnew == c->capnew) {
		size_t nc = c->capnew ? c->capnew * 2 : 64;
		struct sync_new *n = realloc(c->nw, nc * sizeof *n);
		if (n == NULL)
			return -1;
		c->nw = n;
		c->capnew = nc;
	}
	c->nw[c->nnew++] = (struct sync_new){ .name = name, .in_new = in_new, .vsize = vsize, .idate = idate };
	return 0;
}

/* Read dir's message names into c. *stable: its mtime did not move
 * while it was read. */
static int sync_readdir(struct sync_ctx *c, const char *dir, bool in_new, int64_t mtime_before, bool *stable)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return -1;
	store_count_dir_scan();
	struct dirent *de;
	int rc = 0;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !mfname_ok(de->d_name))
			continue;
		if (c->nents >= 2 * (size_t)STORE_FOLDER_MSGS_MAX) {
			errno = EFBIG; /* hostile or damaged: refuse rather than grow without end */
			rc = -1;
			break;
		}
		if (c->nents == c->capents) {
			size_t nc = c->capents ? c->capents * 2 : 256;
			struct sync_ent *ne = realloc(c->ents, nc * sizeof *ne);
			if (ne == NULL) {
				rc = -1;
				break;
			}
			c->ents = ne;
			c->capents = nc;
		}
		char *s = strdup(de->d_name);
		if (s == NULL) {
			rc = -1;
			break;
		}
		c->ents[c->nents++] = (struct sync_ent){ .name = s, .in_new = in_new };
	}
	int e = errno;
	closedir(d);
	if (rc < 0) {
		errno = e;
		return -1;
	}
	struct stat st;
	*stable = stat(dir, &st) == 0 && store_stat_mtime_ns(&st) == mtime_before;
	return 0;
}

/* Index of f->msgs by base name: open addressing, index + 1 per slot. */
struct sync_hash {
	uint32_t *slot;
	size_t cap;
};

static int sync_hash_build(struct sync_hash *h, const struct folder *f)
{
	size_t cap = 64;
	while (cap < f->n * 2 + 1)
		cap *= 2;
	h->slot = calloc(cap, sizeof *h->slot);
	if (h->slot == NULL)
		return -1;
	h->cap = cap;
	for (size_t i = 0; i < f->n; i++) {
		const char *nm = f->msgs[i].name;
		size_t bl = mfname_base_len(nm);
		size_t k = (size_t)store_hash_base(nm, bl) & (cap - 1);
		while (h->slot[k])
			k = (k + 1) & (cap - 1);
		h->slot[k] = (uint32_t)i + 1;
	}
	return 0;
}

static long sync_hash_find(const struct sync_hash *h, const struct folder *f, const char *name, size_t bl)
{
	size_t k = (size_t)store_hash_base(name, bl) & (h->cap - 1);
	while (h->slot[k]) {
		const char *nm = f->msgs[h->slot[k] - 1].name;
		if (mfname_base_len(nm) == bl && memcmp(nm, name, bl) == 0)
			return (long)h->slot[k] - 1;
		k = (k + 1) & (h->cap - 1);
	}
	return -1;
}

static int sync_new_cmp(const void *a, const void *b)
{
	const struct sync_new *x = a, *y = b;
	if (x->uid != y->uid)
		return x->uid == 0 ? 1 : y->uid == 0 ? -1 : x->uid < y->uid ? -1 : 1;
	return mfname_cmp(x->name, y->name);
}

/* Set m's name (keeping its uidlist fields) and where it is. */
int fmsg_rename(struct fmsg *m, const char *name, bool in_new)
{
	const char *ext = fmsg_ext(m);
	char *keep = ext ? strdup(ext) : NULL;
	if (ext && keep == NULL)
		return -1;
	int rc = fmsg_set_name(m, name, keep);
	free(keep);
	if (rc == 0) {
		if (in_new)
			m->state |= FM_IN_NEW;
		else
			m->state &= (uint8_t)~FM_IN_NEW;
	}
	return rc;
}

/* Old leftovers in tmp/ (a writer that died), once per load. */
static void sync_clean_tmp(struct folder *f)
{
	if (f->tmp_cleaned)
		return;
	f->tmp_cleaned = true;
	char dir[PATH_MAX];
	if (folder_subpath(f, "tmp", dir, sizeof dir) < 0)
		return;
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	int64_t limit = store_now_ns() / 1000000000LL - SYNC_TMP_STALE_SECS;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		/* ctime, not mtime: a writer sets the mtime to the internal
		 * date (APPEND) long before it is done */
		if (S_ISREG(st.st_mode) && st.st_ctime < limit && st.st_mtime < limit)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

int folder_lock(struct folder *f, struct dotlock *l)
{
	char path[PATH_MAX];
	if (folder_subpath(f, "dovecot-uidlist", path, sizeof path) < 0)
		return -1;
	if (dotlock_take(l, path) < 0) {
		int e = errno;
		struct stat st;
		if (e == ENOENT && stat(f->path, &st) < 0 && errno == ENOENT)
			f->vanished = true;
		errno = e;
		return -1;
	}
	return 0;
}

/* --------------------------------------------------------- the uidlist */

/*
 * Under the lock: read the uidlist if it changed since we last read or
 * wrote it and make the folder agree. *ul is left filled (for the new
 * files' UIDs) when it was read; *rewrite is set when the file must be
 * written whole. SYNC_RESTART when the folder's identity changed.
 */
static int sync_uidlist(struct folder *f, struct sync_ctx *c, struct uidlist *ul, bool *have_ul, bool *rewrite)
{
	char path[PATH_MAX];
	if (folder_subpath(f, "dovecot-uidlist", path, sizeof path) < 0)
		return -1;
	*have_ul = false;
	struct stat st;
	if (stat(path, &st) == 0 && store_fileid_eq(&f->ul_id, &st) && f->uidvalidity != 0)
		return 0;
	enum uidlist_status s = uidlist_read(path, ul);
	if (s == UIDLIST_ERROR) {
		uidlist_free(ul);
		return -1;
	}
	if (s != UIDLIST_OK)
		*rewrite = true;
	if (s == UIDLIST_MISSING || ul->uidvalidity == 0) {
		/* Nothing to believe: our memory (the cache) keeps the UIDs
		 * clients know; a folder never numbered gets its identity. */
		uidlist_free(ul);
		if (f->uidvalidity == 0) {
			f->uidvalidity = store_uidvalidity_next(f->root);
			f->uidnext = 1;
			f->guid[0] = '\0';
		}
		f->ul_appendable = false;
		return 0;
	}
	if (f->uidvalidity != 0 && ul->uidvalidity != f->uidvalidity) {
		/* Recreated by someone else: every UID we know is void. */
		for (size_t i = 0; i < f->n; i++)
			f->msgs[i].state |= FM_MARK;
		folder_remove_marked(f);
		f->uidvalidity = 0;
		f->uidnext = 1;
		f->ul_id.valid = false;
		f->st_new.valid = f->st_cur.valid = false;
		uidlist_free(ul);
		return SYNC_RESTART;
	}
	f->uidvalidity = ul->uidvalidity;
	if (ul->nextuid > f->uidnext)
		f->uidnext = ul->nextuid;
	if (ul->guid[0])
		memcpy(f->guid, ul->guid, sizeof f->guid);
	if (ul->hdr_ext) {
		free(f->hdr_ext);
		f->hdr_ext = ul->hdr_ext;
		ul->hdr_ext = NULL;
	}
	for (size_t i = 0; i < f->n; i++) {
		struct fmsg *m = &f->msgs[i];
		if (m->state & FM_MARK)
			continue;
		size_t bl = mfname_base_len(m->name);
		const struct uidlist_rec *r = uidlist_find(ul, m->name, bl);
		if (r == NULL || r->uid == 0) {
			*rewrite = true; /* put our record back */
			continue;
		}
		if (r->uid == m->uid) {
			const char *ext = r->ext_len ? ul->strs + r->ext_off : NULL;
			const char *mine = fmsg_ext(m);
			if ((ext == NULL) != (mine == NULL) || (ext && strcmp(ext, mine) != 0)) {
				char *nm = strdup(m->name);
				if (nm && fmsg_set_name(m, nm, ext) < 0) {
					/* keeps the old fields: harmless */
				}
				free(nm);
			}
			continue;
		}
		/* Another program numbered this file anew: it is another
		 * message now, as far as IMAP can tell. */
		char *nm = strdup(m->name);
		if (nm == NULL || sync_push_new(c, nm, (m->state & FM_IN_NEW) != 0, m->vsize, m->idate) < 0) {
			free(nm);
			uidlist_free(ul);
			return -1;
		}
		m->state |= FM_MARK;
	}
	f->ul_id = ul->id;
	f->ul_records = (uint32_t)ul->n;
	f->ul_appendable = s == UIDLIST_OK && ul->version == 3 && ul->guid[0];
	*have_ul = true;
	return 0;
}

/* ------------------------------------------------------------- a pass */

static int sync_once(struct folder *f, bool move_new, bool force, bool have_lock)
{
	if (f->vanished) {
		errno = ENOENT;
		return -1;
	}
	keywords_refresh(f);
	sync_clean_tmp(f);
	char dnew[PATH_MAX], dcur[PATH_MAX], ulpath[PATH_MAX];
	if (folder_subpath(f, "new", dnew, sizeof dnew) < 0 || folder_subpath(f, "cur", dcur, sizeof dcur) < 0 ||
	    folder_subpath(f, "dovecot-uidlist", ulpath, sizeof ulpath) < 0)
		return -1;
	int64_t t0 = store_now_ns();
	struct stat sn, sc, su;
	for (int tries = 0;; tries++) {
		if (stat(dnew, &sn) == 0 && stat(dcur, &sc) == 0)
			break;
		int e = errno;
		struct stat sp;
		if (stat(f->path, &sp) < 0 && errno == ENOENT) {
			f->vanished = true;
			errno = ENOENT;
			return -1;
		}
		/* new/ or cur/ removed by hand: the folder is still there */
		if (tries > 0 || e != ENOENT || fsutil_mkdirs(dnew, STORE_DIR_MODE) < 0 ||
		    fsutil_mkdirs(dcur, STORE_DIR_MODE) < 0) {
			errno = e;
			return -1;
		}
	}
	int64_t mt_new = store_stat_mtime_ns(&sn), mt_cur = store_stat_mtime_ns(&sc);
	bool scan_new = force || f->force_scan || !sync_stamp_fresh(&f->st_new, mt_new);
	bool scan_cur = force || f->force_scan || !sync_stamp_fresh(&f->st_cur, mt_cur);
	bool ul_changed = stat(ulpath, &su) < 0 || !store_fileid_eq(&f->ul_id, &su) || f->uidvalidity == 0;
	bool to_move = false;
	for (size_t i = 0; move_new && i < f->n && !to_move; i++)
		to_move = (f->msgs[i].state & FM_IN_NEW) != 0;
	bool bump = f->bump_on_scan && (scan_new || scan_cur);
	f->bump_on_scan = false;
	if (!scan_new && !scan_cur && !ul_changed && !to_move)
		return 0;

	struct sync_ctx c = { 0 };
	struct sync_hash h = { 0 };
	struct uidlist ul = { 0 };
	bool have_ul = false, rewrite = false, took = false, stable_new = true, stable_cur = true;
	struct dotlock lk;
	uint8_t *seen = NULL;
	int rc = -1;
	if (bump)
		sync_modseq(f, &c); /* see cache.c: the cache may be older than what clients were told */
	if ((scan_new && sync_readdir(&c, dnew, true, mt_new, &stable_new) < 0) ||
	    (scan_cur && sync_readdir(&c, dcur, false, mt_cur, &stable_cur) < 0))
		goto out;

	/* match the files to the messages */
	for (size_t i = 0; i < f->n; i++)
		f->msgs[i].state &= (uint8_t)~(FM_MARK | FM_CHANGED);
	seen = calloc(f->n ? f->n : 1, 1);
	if (seen == NULL || sync_hash_build(&h, f) < 0)
		goto out;
	for (size_t i = 0; i < c.nents; i++) {
		struct sync_ent *e = &c.ents[i];
		size_t bl = mfname_base_len(e->name);
		long idx = sync_hash_find(&h, f, e->name, bl);
		if (idx < 0) {
			if (sync_push_new(&c, e->name, e->in_new, 0, 0) < 0)
				goto out;
			e->name = NULL;
			continue;
		}
		/* new/ was read first: a file also in cur/ moved meanwhile,
		 * and cur/ is where it is now */
		struct fmsg *m = &f->msgs[idx];
		seen[idx] = 1;
		if (strcmp(m->name, e->name) == 0 && ((m->state & FM_IN_NEW) != 0) == e->in_new)
			continue;
		unsigned fl;
		imap_keywords kw;
		mfname_flags(e->name, &fl, &kw);
		if (fmsg_rename(m, e->name, e->in_new) < 0)
			goto out;
		if (fl != m->flags || kw != m->kw) {
			m->flags = (uint8_t)fl;
			m->kw = kw;
			m->modseq = sync_modseq(f, &c);
		}
		f->dirty = true;
	}
	for (size_t i = 0; i < f->n; i++) {
		struct fmsg *m = &f->msgs[i];
		bool innew = (m->state & FM_IN_NEW) != 0;
		if (seen[i] || !(innew ? scan_new : scan_cur))
			continue;
		if (!(innew ? stable_new : stable_cur)) {
			f->force_scan = true; /* not sure it is gone: look again next time */
			continue;
		}
		m->state |= FM_MARK;
	}

	/* the new files: sizes and dates before the lock, so it is held briefly */
	size_t keep = 0;
	for (size_t i = 0; i < c.nnew; i++) {
		struct sync_new *n = &c.nw[i];
		char p[PATH_MAX];
		int k = snprintf(p, sizeof p, "%s/%s", n->in_new ? dnew : dcur, n->name);
		struct stat st;
		int fd = -1;
		bool ok = k > 0 && (size_t)k < sizeof p;
		if (ok && n->idate == 0 && n->vsize == 0) {
			size_t bl = mfname_base_len(n->name);
			if (mfname_size_field(n->name, bl, 'W', &n->vsize)) {
				ok = stat(p, &st) == 0 && S_ISREG(st.st_mode);
			} else {
				fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
				ok = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
				     store_measure_fd(fd, &n->vsize) == 0;
				if (fd >= 0)
					close(fd);
			}
			if (ok)
				n->idate = st.st_mtime;
		}
		if (!ok) {
			free(n->name); /* gone meanwhile, or not a message */
			continue;
		}
		c.nw[keep++] = *n;
	}
	c.nnew = keep;

	/* the uidlist, and UIDs for the new files */
	if (c.nnew > 0 || ul_changed || have_lock) {
		if (!have_lock) {
			if (folder_lock(f, &lk) < 0)
				goto out;
			took = true;
		}
		int r = sync_uidlist(f, &c, &ul, &have_ul, &rewrite);
		if (r == SYNC_RESTART) {
			rc = SYNC_RESTART;
			goto out;
		}
		if (r < 0)
			goto out;
		if (f->ul_records > 2 * f->n + 1024)
			rewrite = true; /* mostly records of expunged messages */
	}
	folder_remove_marked(f);
	if (c.nnew > 0) {
		uint32_t maxuid = f->n ? f->msgs[f->n - 1].uid : 0;
		for (size_t i = 0; i < c.nnew; i++) {
			struct sync_new *n = &c.nw[i];
			const struct uidlist_rec *r =
			    have_ul ? uidlist_find(&ul, n->name, mfname_base_len(n->name)) : NULL;
			if (r && r->uid > maxuid && r->uid < f->uidnext) {
				n->uid = r->uid;
				n->ext = r->ext_len ? ul.strs + r->ext_off : NULL;
			}
		}
		qsort(c.nw, c.nnew, sizeof *c.nw, sync_new_cmp);
		/* the same base twice (moved while read): the later sort
		 * neighbour is dropped, cur/ preferred */
		keep = 0;
		for (size_t i = 0; i < c.nnew; i++) {
			if (keep > 0 && mfname_base_len(c.nw[keep - 1].name) == mfname_base_len(c.nw[i].name) &&
			    memcmp(c.nw[keep - 1].name, c.nw[i].name, mfname_base_len(c.nw[i].name)) == 0) {
				if (c.nw[keep - 1].in_new && !c.nw[i].in_new) {
					free(c.nw[keep - 1].name);
					c.nw[keep - 1] = c.nw[i];
				} else {
					free(c.nw[i].name);
				}
				continue;
			}
			c.nw[keep++] = c.nw[i];
		}
		c.nnew = keep;
		if (f->n + c.nnew > STORE_FOLDER_MSGS_MAX) {
			errno = EFBIG;
			goto out;
		}
		struct fmsg *add = calloc(c.nnew, sizeof *add);
		if (add == NULL)
			goto out;
		uint32_t old_next = f->uidnext;
		size_t from = 0;
		uint64_t ms = sync_modseq(f, &c);
		int wr = 0;
		for (size_t i = 0; i < c.nnew && wr == 0; i++) {
			struct sync_new *n = &c.nw[i];
			if (n->uid == 0) {
				if (f->uidnext >= UINT32_MAX - 1) {
					errno = EOVERFLOW;
					wr = -1;
					break;
				}
				n->uid = f->uidnext++;
			} else {
				from = i + 1;
			}
			struct fmsg *m = &add[i];
			unsigned fl;
			mfname_flags(n->name, &fl, &m->kw);
			m->uid = n->uid;
			m->flags = (uint8_t)fl;
			m->state = n->in_new ? FM_IN_NEW | FM_RECENT : 0;
			m->modseq = ms;
			m->vsize = n->vsize;
			m->idate = n->idate;
			if (fmsg_set_name(m, n->name, n->ext) < 0)
				wr = -1;
		}
		if (wr == 0)
			wr = uidlist_write(f, add, c.nnew, from, !rewrite);
		if (wr == 0)
			rewrite = false;
		for (size_t i = 0; i < c.nnew; i++) {
			if (wr == 0 && folder_append(f, &add[i]) == 0)
				continue;
			free(add[i].name);
		}
		free(add);
		if (wr < 0) {
			f->uidnext = old_next;
			goto out;
		}
	}
	if (rewrite && uidlist_write(f, NULL, 0, 0, false) < 0)
		goto out;
	if (took) {
		dotlock_release(&lk);
		took = false;
	}

	/* a read-write session has seen them arrive: new/ to cur/ */
	for (size_t i = 0; move_new && i < f->n; i++) {
		struct fmsg *m = &f->msgs[i];
		if (!(m->state & FM_IN_NEW))
			continue;
		char to[NAME_MAX + 1], a[PATH_MAX], b[PATH_MAX];
		if (mfname_with_flags(m->name, m->flags, m->kw, to, sizeof to) < 0)
			continue;
		int x = snprintf(a, sizeof a, "%s/%s", dnew, m->name);
		int y = snprintf(b, sizeof b, "%s/%s", dcur, to);
		if (x < 0 || y < 0 || (size_t)x >= sizeof a || (size_t)y >= sizeof b)
			continue;
		if (rename(a, b) < 0) {
			if (errno == ENOENT)
				f->force_scan = true; /* moved by someone else: find it */
			continue;
		}
		fmsg_rename(m, to, false);
		f->dirty = true;
	}

	if (scan_new)
		f->st_new = (struct store_dirstamp){ .valid = stable_new, .mtime_ns = mt_new, .scan_ns = t0 };
	if (scan_cur)
		f->st_cur = (struct store_dirstamp){ .valid = stable_cur, .mtime_ns = mt_cur, .scan_ns = t0 };
	if (scan_new && scan_cur && stable_new && stable_cur)
		f->force_scan = false;
	if (!stable_new || !stable_cur)
		f->force_scan = true;
	rc = 0;
out:;
	int e = errno;
	if (took)
		dotlock_release(&lk);
	for (size_t i = 0; i < f->n; i++)
		f->msgs[i].state &= (uint8_t)~(FM_MARK | FM_CHANGED);
	uidlist_free(&ul);
	free(h.slot);
	free(seen);
	sync_ctx_free(&c);
	if (rc == 0)
		cache_save(f, false);
	errno = e;
	return rc;
}

static int sync_run(struct folder *f, bool move_new, bool force, bool have_lock)
{
	for (int round = 0; round < 3; round++) {
		int r = sync_once(f, move_new, force || round > 0, have_lock);
		if (r != SYNC_RESTART)
			return r;
	}
	errno = EIO;
	return -1;
}

int folder_sync(struct folder *f, bool move_new, bool force)
{
	return sync_run(f, move_new, force, false);
}

int folder_sync_locked(struct folder *f, bool move_new, bool force)
{
	return sync_run(f, move_new, force, true);
}

int folder_add_own(struct folder *f, const char *const *names, const uint64_t *vsizes, const int64_t *idates,
                   size_t n, bool recent, uint32_t *uids)
{
	if (n == 0)
		return 0;
	if (f->n + n > STORE_FOLDER_MSGS_MAX || f->uidvalidity == 0) {
		errno = f->uidvalidity == 0 ? EINVAL : EFBIG;
		return -1;
	}
	if ((uint64_t)f->uidnext + n >= UINT32_MAX) {
		errno = EOVERFLOW;
		return -1;
	}
	struct fmsg *add = calloc(n, sizeof *add);
	if (add == NULL)
		return -1;
	uint64_t ms = folder_modseq_next(f);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct fmsg *m = &add[i];
		unsigned fl;
		mfname_flags(names[i], &fl, &m->kw);
		m->uid = f->uidnext + (uint32_t)i;
		m->flags = (uint8_t)fl;
		m->state = recent ? FM_RECENT : 0;
		m->modseq = ms;
		m->vsize = vsizes[i];
		m->idate = idates[i];
		rc = fmsg_set_name(m, names[i], NULL);
	}
	uint32_t old_next = f->uidnext;
	f->uidnext += (uint32_t)n;
	if (rc == 0)
		rc = uidlist_write(f, add, n, 0, true);
	int e = errno;
	for (size_t i = 0; i < n; i++) {
		if (rc == 0 && folder_append(f, &add[i]) == 0) {
			uids[i] = add[i].uid;
			continue;
		}
		if (rc == 0)
			uids[i] = 0; /* out of memory: on disk, found by the next scan */
		free(add[i].name);
	}
	free(add);
	if (rc < 0) {
		f->uidnext = old_next;
		errno = e;
	}
	return rc;
}
