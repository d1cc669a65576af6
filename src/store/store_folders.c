/*
 * store_folders — the folder commands of the store (RFC 9051 6.3): LIST,
 * CREATE, DELETE, RENAME, SUBSCRIBE/UNSUBSCRIBE, STATUS, over the
 * Maildir++ tree of tree.c.
 *
 * - DELETE of INBOX is refused (RFC 9051 6.3.4); any other folder's
 *   directory is first renamed out of the name space ("~" cannot start a
 *   folder name) so that it vanishes at once for every reader, then
 *   removed. Its children are separate folders and stay.
 * - RENAME moves the folder and its children (6.3.6), keeping their
 *   UIDVALIDITY and UIDs, which move with the directories. Renaming
 *   INBOX makes the new folder, moves every message of INBOX into it and
 *   leaves INBOX empty; INBOX's children stay where they are.
 * - Subscriptions are names, not folders (subs.c): DELETE and RENAME
 *   leave them as they are, as Dovecot does.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "store/store_int.h"

#define FOLDERS_MAX 10000
#define FOLDERS_RM_DEPTH 3 /* .NAME/cur/FILE: nothing of ours is deeper */

static atomic_uint folders_trash_counter;

static int folders_push(char ***v, size_t *n, size_t *cap, const char *s)
{
	if (*n >= FOLDERS_MAX) {
		errno = EFBIG;
		return -1;
	}
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 32;
		char **nv = realloc(*v, nc * sizeof *nv);
		if (nv == NULL)
			return -1;
		*v = nv;
		*cap = nc;
	}
	if (((*v)[*n] = strdup(s)) == NULL)
		return -1;
	(*n)++;
	return 0;
}

int store_folder_names(struct store *st, char ***names, size_t *n)
{
	char **v = NULL;
	size_t cnt = 0, cap = 0;
	*names = NULL;
	*n = 0;
	if (folders_push(&v, &cnt, &cap, "INBOX") < 0)
		return -1;
	DIR *d = opendir(st->root);
	if (d == NULL) {
		subs_free(v, cnt);
		return -1;
	}
	struct dirent *de;
	int rc = 0;
	while ((de = readdir(d)) != NULL && rc == 0) {
		const char *nm = de->d_name;
		if (nm[0] != '.' || !store_name_ok(nm + 1) || store_name_is_inbox(nm + 1))
			continue;
		char cur[PATH_MAX];
		struct stat sb;
		int k = snprintf(cur, sizeof cur, "%s/%s/cur", st->root, nm);
		if (k < 0 || (size_t)k >= sizeof cur || stat(cur, &sb) < 0 || !S_ISDIR(sb.st_mode))
			continue;
		rc = folders_push(&v, &cnt, &cap, nm + 1);
	}
	closedir(d);
	if (rc < 0) {
		subs_free(v, cnt);
		return -1;
	}
	*names = v;
	*n = cnt;
	return 0;
}

static struct imap_folder *folders_find(struct imap_folder *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

static int folders_add(struct imap_folder **v, size_t *n, size_t *cap, const char *name, unsigned attrs)
{
	struct imap_folder *have = folders_find(*v, *n, name);
	if (have) {
		have->attrs |= attrs;
		return 0;
	}
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 32;
		struct imap_folder *nv = realloc(*v, nc * sizeof *nv);
		if (nv == NULL)
			return -1;
		*v = nv;
		*cap = nc;
	}
	struct imap_folder *f = &(*v)[(*n)++];
	snprintf(f->name, sizeof f->name, "%s", name);
	f->attrs = attrs;
	return 0;
}

enum imap_store_result store_list(struct store *st, struct imap_folder **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	char **names, **subs;
	size_t nn, ns;
	if (store_folder_names(st, &names, &nn) < 0)
		return IMAP_STORE_ERROR;
	if (subs_read(st->root, &subs, &ns) < 0) {
		subs_free(names, nn);
		return IMAP_STORE_ERROR;
	}
	struct imap_folder *v = NULL;
	size_t cnt = 0, cap = 0;
	int rc = 0;
	for (size_t i = 0; i < nn && rc == 0; i++)
		rc = folders_add(&v, &cnt, &cap, names[i], IMAP_FOLDER_EXISTS | store_special_attr(names[i]));
	for (size_t i = 0; store_special_name(i) && rc == 0; i++) {
		const char *s = store_special_name(i);
		rc = folders_add(&v, &cnt, &cap, s, IMAP_FOLDER_EXISTS | store_special_attr(s));
	}
	for (size_t i = 0; i < ns && rc == 0; i++)
		rc = folders_add(&v, &cnt, &cap, store_name_is_inbox(subs[i]) ? "INBOX" : subs[i],
		                 IMAP_FOLDER_SUBSCRIBED);
	subs_free(names, nn);
	subs_free(subs, ns);
	if (rc < 0) {
		free(v);
		return IMAP_STORE_ERROR;
	}
	*out = v;
	*n = cnt;
	return IMAP_STORE_OK;
}

enum imap_store_result store_create(struct store *st, const char *name)
{
	char path[PATH_MAX];
	if (!store_name_ok(name))
		return IMAP_STORE_BADNAME;
	if (store_name_is_inbox(name))
		return IMAP_STORE_EXISTS;
	if (store_folder_path(st, name, path, sizeof path) < 0)
		return IMAP_STORE_BADNAME;
	if (store_folder_exists(path))
		return IMAP_STORE_EXISTS;
	/* UIDVALIDITY is taken from the root's counter at the first sync,
	 * so a name made again never gets the value it had (RFC 9051 2.3.1.1) */
	if (store_make_maildir(st->root, path, false) < 0)
		return store_errno_result(errno);
	return IMAP_STORE_OK;
}

/* Remove what a folder directory holds (bounded depth: a Maildir). */
static int folders_rmtree(int dfd, const char *name, int depth)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOTDIR || errno == ELOOP ? unlinkat(dfd, name, 0) : -1;
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -1;
	}
	struct dirent *de;
	int rc = 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(fd, de->d_name, 0) == 0)
			continue;
		if ((errno == EISDIR || errno == EPERM) && depth > 0) {
			if (folders_rmtree(fd, de->d_name, depth - 1) < 0)
				rc = -1;
		} else if (errno != ENOENT) {
			rc = -1;
		}
	}
	closedir(d);
	if (rc == 0 && unlinkat(dfd, name, AT_REMOVEDIR) < 0)
		rc = -1;
	return rc;
}

enum imap_store_result store_delete(struct store *st, const char *name)
{
	char path[PATH_MAX], trash[PATH_MAX];
	if (!store_name_ok(name))
		return IMAP_STORE_BADNAME;
	if (store_name_is_inbox(name))
		return IMAP_STORE_NOPERM;
	if (store_folder_path(st, name, path, sizeof path) < 0)
		return IMAP_STORE_BADNAME;
	if (!store_folder_exists(path))
		return IMAP_STORE_NONEXISTENT;
	char tname[64];
	snprintf(tname, sizeof tname, ".~tern-deleted.%lld.%ld.%u", (long long)(store_now_ns() / 1000), (long)getpid(),
	         atomic_fetch_add(&folders_trash_counter, 1));
	int k = snprintf(trash, sizeof trash, "%s/%s", st->root, tname);
	if (k < 0 || (size_t)k >= sizeof trash)
		return IMAP_STORE_ERROR;
	if (rename(path, trash) < 0)
		return errno == ENOENT ? IMAP_STORE_NONEXISTENT : store_errno_result(errno);
	folder_detach(path, false);
	if (fsutil_fsync_dir(st->root) < 0)
		return IMAP_STORE_ERROR;
	/* The name is gone; what is left is only space to free. */
	int dfd = open(st->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		folders_rmtree(dfd, tname, FOLDERS_RM_DEPTH);
		close(dfd);
	}
	return IMAP_STORE_OK;
}

/* Move every file of INBOX's new/ and cur/ into the Maildir at to. */
static enum imap_store_result folders_move_inbox(struct store *st, const char *to)
{
	struct folder *f = folder_get(st->root, st->root);
	if (f == NULL)
		return IMAP_STORE_ERROR;
	enum imap_store_result res = IMAP_STORE_OK;
	pthread_mutex_lock(&f->mu);
	struct dotlock lk;
	if (folder_lock(f, &lk) < 0) {
		pthread_mutex_unlock(&f->mu);
		folder_put(f);
		return IMAP_STORE_ERROR;
	}
	/* the keyword letters keep their meaning in the new folder */
	char kwf[PATH_MAX], kwt[PATH_MAX];
	char *data = NULL;
	size_t len = 0;
	int a = snprintf(kwf, sizeof kwf, "%s/dovecot-keywords", st->root);
	int b = snprintf(kwt, sizeof kwt, "%s/dovecot-keywords", to);
	if (a > 0 && b > 0 && (size_t)a < sizeof kwf && (size_t)b < sizeof kwt &&
	    fsutil_read_file(kwf, 64 * 1024, &data, &len) == 0) {
		if (fsutil_replace_file(kwt, data, len, STORE_FILE_MODE) < 0)
			res = IMAP_STORE_ERROR;
		free(data);
	}
	static const char *const subs[] = { "new", "cur" };
	for (int s = 0; s < 2 && res == IMAP_STORE_OK; s++) {
		char from[PATH_MAX], dst[PATH_MAX];
		snprintf(from, sizeof from, "%s/%s", st->root, subs[s]);
		int k = snprintf(dst, sizeof dst, "%s/%s", to, subs[s]);
		DIR *d = opendir(from);
		if (d == NULL || k < 0 || (size_t)k >= sizeof dst) {
			if (d)
				closedir(d);
			res = IMAP_STORE_ERROR;
			break;
		}
		int tfd = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		struct dirent *de;
		while (tfd >= 0 && (de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			if (renameat(dirfd(d), de->d_name, tfd, de->d_name) < 0 && errno != ENOENT)
				res = IMAP_STORE_ERROR;
		}
		if (tfd < 0)
			res = IMAP_STORE_ERROR;
		else
			close(tfd);
		closedir(d);
		if (fsutil_fsync_dir(dst) < 0 || fsutil_fsync_dir(from) < 0)
			res = IMAP_STORE_ERROR;
	}
	/* INBOX now finds its files gone: expunges for its sessions */
	if (folder_sync_locked(f, false, true) < 0)
		res = IMAP_STORE_ERROR;
	dotlock_release(&lk);
	pthread_mutex_unlock(&f->mu);
	folder_put(f);
	return res;
}

static bool folders_is_child(const char *name, const char *parent, size_t pl)
{
	return strncmp(name, parent, pl) == 0 && name[pl] == '.';
}

enum imap_store_result store_rename(struct store *st, const char *from, const char *to)
{
	char pf[PATH_MAX], pt[PATH_MAX];
	if (!store_name_ok(from) || !store_name_ok(to))
		return IMAP_STORE_BADNAME;
	if (store_name_is_inbox(to))
		return IMAP_STORE_EXISTS;
	if (store_folder_path(st, to, pt, sizeof pt) < 0)
		return IMAP_STORE_BADNAME;
	if (store_folder_exists(pt))
		return IMAP_STORE_EXISTS;
	enum imap_store_result r = store_folder_ready(st, from, pf, sizeof pf);
	if (r != IMAP_STORE_OK)
		return r;
	if (store_name_is_inbox(from)) {
		/* RFC 9051 6.3.6: the messages move, INBOX stays (empty) */
		if (store_make_maildir(st->root, pt, false) < 0)
			return store_errno_result(errno);
		return folders_move_inbox(st, pt);
	}
	size_t fl = strlen(from), tl = strlen(to);
	if (tl > fl && folders_is_child(to, from, fl))
		return IMAP_STORE_BADNAME; /* into itself */
	char **names;
	size_t n;
	if (store_folder_names(st, &names, &n) < 0)
		return IMAP_STORE_ERROR;
	/* every child's new name must be free and valid */
	for (size_t i = 0; i < n; i++) {
		if (!folders_is_child(names[i], from, fl))
			continue;
		char nn[IMAP_NAME_MAX + 2], p[PATH_MAX];
		int k = snprintf(nn, sizeof nn, "%s%s", to, names[i] + fl);
		if (k < 0 || (size_t)k >= sizeof nn || !store_name_ok(nn) ||
		    store_folder_path(st, nn, p, sizeof p) < 0) {
			subs_free(names, n);
			return IMAP_STORE_BADNAME;
		}
		if (store_folder_exists(p)) {
			subs_free(names, n);
			return IMAP_STORE_EXISTS;
		}
	}
	/* sessions of the old names lose them now */
	folder_detach(pf, true);
	r = IMAP_STORE_OK;
	if (rename(pf, pt) < 0)
		r = store_errno_result(errno);
	for (size_t i = 0; i < n && r == IMAP_STORE_OK; i++) {
		if (!folders_is_child(names[i], from, fl))
			continue;
		char nn[IMAP_NAME_MAX + 2], a[PATH_MAX], b[PATH_MAX];
		snprintf(nn, sizeof nn, "%s%s", to, names[i] + fl);
		if (store_folder_path(st, names[i], a, sizeof a) < 0 || store_folder_path(st, nn, b, sizeof b) < 0 ||
		    rename(a, b) < 0)
			r = IMAP_STORE_ERROR;
	}
	subs_free(names, n);
	if (fsutil_fsync_dir(st->root) < 0 && r == IMAP_STORE_OK)
		r = IMAP_STORE_ERROR;
	return r;
}

enum imap_store_result store_subscribe(struct store *st, const char *name, bool on)
{
	return subs_set(st->root, store_name_is_inbox(name) ? "INBOX" : name, on);
}

enum imap_store_result store_status(struct store *st, const char *name, unsigned items, struct imap_status *out)
{
	(void)items; /* everything is at hand once the folder is synced */
	memset(out, 0, sizeof *out);
	char path[PATH_MAX];
	enum imap_store_result r = store_folder_ready(st, name, path, sizeof path);
	if (r != IMAP_STORE_OK)
		return r;
	struct folder *f = folder_get(st->root, path);
	if (f == NULL)
		return IMAP_STORE_ERROR;
	pthread_mutex_lock(&f->mu);
	if (folder_sync(f, false, false) < 0) {
		r = errno == ENOENT ? IMAP_STORE_NONEXISTENT : IMAP_STORE_ERROR;
	} else {
		if (f->highestmodseq == 0)
			folder_modseq_next(f);
		out->messages = (uint32_t)f->n;
		out->uidnext = f->uidnext;
		out->uidvalidity = f->uidvalidity;
		out->highestmodseq = f->highestmodseq;
		for (size_t i = 0; i < f->n; i++) {
			const struct fmsg *m = &f->msgs[i];
			out->recent += (m->state & FM_RECENT) != 0;
			out->unseen += !(m->flags & IMAP_FLAG_SEEN);
			out->deleted += (m->flags & IMAP_FLAG_DELETED) != 0;
			out->size += m->vsize;
		}
		/* \Recent is per session (RFC 3501 2.3.2): a message another
		 * session has claimed is not recent for this one, as in
		 * Dovecot; those this session's own view holds count. */
		for (struct store_view *v = f->views; v; v = v->vnext)
			if (v->st == st)
				out->recent += (uint32_t)v->nrecent;
	}
	pthread_mutex_unlock(&f->mu);
	folder_put(f);
	return r;
}
