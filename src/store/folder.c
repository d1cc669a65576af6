/*
 * folder — the in-memory folders of this process and their message
 * arrays. One struct folder per Maildir, found by path in a registry,
 * shared by every view of it (so a change one session makes is known to
 * the others without another look at the disk), loaded from the cache
 * on first use and written back to it when its last user lets go.
 *
 * The message array is sorted by UID; new messages always have UIDs
 * above all present ones, so they go at its end. Removing messages is
 * the delicate part (RFC 9051 7.5.1): a view must keep numbering them
 * until it may tell its client. A view that still numbers the folder's
 * own array gets a private copy of its UIDs first (view_detach); the
 * removed records move to the graves, where store_view_msg still finds
 * them, until no view needs them.
 *
 * MODSEQ (RFC 7162) values are max(highest + 1, the clock in
 * microseconds): always increasing, and since the cache is written
 * without fsync, a value lost in a crash is always below the clock at
 * the next start, which is where new values begin.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

static pthread_mutex_t folder_reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct folder *folder_reg;

static struct folder *folder_new(const char *root, const char *path)
{
	struct folder *f = calloc(1, sizeof *f);
	if (f == NULL)
		return NULL;
	f->path = strdup(path);
	f->root = strdup(root);
	if (f->path == NULL || f->root == NULL) {
		free(f->path);
		free(f->root);
		free(f);
		return NULL;
	}
	pthread_mutex_init(&f->mu, NULL);
	syncgroup_init(&f->sg_cur);
	syncgroup_init(&f->sg_new);
	syncgroup_init(&f->sg_dir);
	f->cache_fd = -1;
	return f;
}

static void folder_free(struct folder *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->msgs[i].name);
	free(f->msgs);
	free(f->graves);
	keywords_free(f);
	cache_close(f);
	free(f->hdr_ext);
	syncgroup_destroy(&f->sg_cur);
	syncgroup_destroy(&f->sg_new);
	syncgroup_destroy(&f->sg_dir);
	pthread_mutex_destroy(&f->mu);
	free(f->path);
	free(f->root);
	free(f);
}

struct folder *folder_get(const char *root, const char *path)
{
	pthread_mutex_lock(&folder_reg_mu);
	struct folder *f;
	for (f = folder_reg; f; f = f->next)
		if (strcmp(f->path, path) == 0)
			break;
	if (f == NULL) {
		f = folder_new(root, path);
		if (f == NULL) {
			pthread_mutex_unlock(&folder_reg_mu);
			errno = ENOMEM;
			return NULL;
		}
		f->next = folder_reg;
		folder_reg = f;
	}
	f->refs++;
	pthread_mutex_unlock(&folder_reg_mu);
	pthread_mutex_lock(&f->mu);
	if (!f->loaded) {
		cache_load(f);
		keywords_refresh(f);
		f->loaded = true;
	}
	pthread_mutex_unlock(&f->mu);
	return f;
}

void folder_put(struct folder *f)
{
	if (f == NULL)
		return;
	pthread_mutex_lock(&folder_reg_mu);
	bool last = f->refs == 1, detached = f->detached;
	pthread_mutex_unlock(&folder_reg_mu);
	if (last && !detached) {
		pthread_mutex_lock(&f->mu);
		cache_save(f, true);
		pthread_mutex_unlock(&f->mu);
	}
	pthread_mutex_lock(&folder_reg_mu);
	bool gone = --f->refs == 0;
	if (gone && !f->detached) {
		for (struct folder **pp = &folder_reg; *pp; pp = &(*pp)->next) {
			if (*pp == f) {
				*pp = f->next;
				break;
			}
		}
	}
	detached = f->detached;
	pthread_mutex_unlock(&folder_reg_mu);
	if (!gone)
		return;
	/* Nobody can reach it now; another user may have changed it after
	 * the save above, before letting go itself. */
	if (!detached && f->dirty)
		cache_save(f, true);
	folder_free(f);
}

void folder_detach(const char *path, bool children)
{
	size_t pl = strlen(path);
	pthread_mutex_lock(&folder_reg_mu);
	for (struct folder **pp = &folder_reg; *pp;) {
		struct folder *f = *pp;
		bool match = strcmp(f->path, path) == 0 ||
		             (children && strncmp(f->path, path, pl) == 0 && f->path[pl] == '.');
		if (!match) {
			pp = &f->next;
			continue;
		}
		*pp = f->next;
		f->detached = true;
		/* Its views may live on, but must not touch whatever takes the
		 * path next. Lock order: the registry, then one folder. */
		pthread_mutex_lock(&f->mu);
		f->vanished = true;
		pthread_mutex_unlock(&f->mu);
	}
	pthread_mutex_unlock(&folder_reg_mu);
}

long folder_find(const struct folder *f, uint32_t uid)
{
	size_t lo = 0, hi = f->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (f->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < f->n && f->msgs[lo].uid == uid ? (long)lo : -1;
}

const struct fmsg *folder_grave(const struct folder *f, uint32_t uid)
{
	size_t lo = 0, hi = f->ngraves;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (f->graves[mid].m.uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < f->ngraves && f->graves[lo].m.uid == uid ? &f->graves[lo].m : NULL;
}

int folder_append(struct folder *f, const struct fmsg *m)
{
	if (f->n == f->cap) {
		size_t nc = f->cap ? f->cap * 2 : 64;
		struct fmsg *nm = realloc(f->msgs, nc * sizeof *nm);
		if (nm == NULL)
			return -1;
		f->msgs = nm;
		f->cap = nc;
	}
	f->msgs[f->n++] = *m;
	f->dirty = true;
	return 0;
}

static int folder_grave_cmp(const void *a, const void *b)
{
	const struct store_grave *x = a, *y = b;
	return x->m.uid < y->m.uid ? -1 : x->m.uid > y->m.uid;
}

void folder_remove_marked(struct folder *f)
{
	size_t first = f->n, count = 0;
	for (size_t i = 0; i < f->n; i++) {
		if (f->msgs[i].state & FM_MARK) {
			if (first == f->n)
				first = i;
			count++;
		}
	}
	if (count == 0)
		return;
	bool keep = false;
	for (struct store_view *v = f->views; v; v = v->vnext) {
		if (v->priv == NULL && v->exists > first && view_detach(v) < 0) {
			/* Out of memory: the messages stay until a later sync
			 * can do this properly. */
			for (size_t i = 0; i < f->n; i++)
				f->msgs[i].state &= (uint8_t)~FM_MARK;
			f->force_scan = true; /* the scan that found them is not believed */
			return;
		}
		if (v->priv)
			keep = true;
	}
	if (keep && f->ngraves + count > f->capgraves) {
		size_t nc = f->capgraves ? f->capgraves : 16;
		while (nc < f->ngraves + count)
			nc *= 2;
		struct store_grave *ng = realloc(f->graves, nc * sizeof *ng);
		if (ng == NULL)
			keep = false; /* the views then show an empty record for these */
		else {
			f->graves = ng;
			f->capgraves = nc;
		}
	}
	f->gen++;
	size_t out = 0;
	for (size_t i = 0; i < f->n; i++) {
		struct fmsg *m = &f->msgs[i];
		if (!(m->state & FM_MARK)) {
			f->msgs[out++] = *m;
			continue;
		}
		free(m->name);
		m->name = NULL;
		m->state &= (uint8_t)~FM_MARK;
		if (keep) {
			f->graves[f->ngraves].m = *m;
			f->graves[f->ngraves].gen = f->gen;
			f->ngraves++;
		}
	}
	f->n = out;
	if (keep)
		qsort(f->graves, f->ngraves, sizeof *f->graves, folder_grave_cmp);
	f->dirty = true;
}

void folder_graves_gc(struct folder *f)
{
	bool any = false;
	uint64_t min = UINT64_MAX;
	for (struct store_view *v = f->views; v; v = v->vnext) {
		if (v->priv) {
			any = true;
			if (v->gen < min)
				min = v->gen;
		}
	}
	if (!any) {
		f->ngraves = 0;
		return;
	}
	size_t out = 0;
	for (size_t i = 0; i < f->ngraves; i++)
		if (f->graves[i].gen > min)
			f->graves[out++] = f->graves[i];
	f->ngraves = out;
}

uint64_t folder_modseq_next(struct folder *f)
{
	uint64_t now = (uint64_t)(store_now_ns() / 1000);
	uint64_t next = f->highestmodseq + 1;
	if (next < now)
		next = now;
	f->highestmodseq = next;
	f->dirty = true;
	return next;
}

int fmsg_set_name(struct fmsg *m, const char *name, const char *ext)
{
	size_t nl = strlen(name), el = ext && *ext ? strlen(ext) : 0;
	char *s = malloc(nl + 1 + (el ? el + 1 : 0));
	if (s == NULL)
		return -1;
	memcpy(s, name, nl + 1);
	if (el) {
		memcpy(s + nl + 1, ext, el + 1);
		m->state |= FM_EXT;
	} else {
		m->state &= (uint8_t)~FM_EXT;
	}
	free(m->name);
	m->name = s;
	return 0;
}

const char *fmsg_ext(const struct fmsg *m)
{
	if (!(m->state & FM_EXT) || m->name == NULL)
		return NULL;
	return m->name + strlen(m->name) + 1;
}

int folder_msg_path(const struct folder *f, const struct fmsg *m, char *out, size_t len)
{
	if (m->name == NULL) {
		errno = ENOENT;
		return -1;
	}
	int n = snprintf(out, len, "%s/%s/%s", f->path, (m->state & FM_IN_NEW) ? "new" : "cur", m->name);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int folder_subpath(const struct folder *f, const char *sub, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%s", f->path, sub);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}
