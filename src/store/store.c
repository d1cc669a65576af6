/*
 * store — the public face of src/store (store.h): opening a user's store
 * and what concerns all of its folders at once (QUOTA, RFC 9208). The
 * other public functions live by subject: store_folders.c (LIST, CREATE,
 * DELETE, RENAME, SUBSCRIBE, STATUS), store_view_ops.c (SELECT and what
 * a selected folder does), store_copy.c, store_msg.c (FETCH and SEARCH
 * reads), store_append.c.
 *
 * Every write a function makes is durable when it returns OK: files are
 * fsync'ed before they are renamed into place and directories after
 * (base/fsutil.h's recipe); the group flushes of syncgroup.h let
 * sessions that change the same directory at once share one fsync.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/fsutil.h"
#include "store/store_int.h"

struct store *store_open(const char *root, uint64_t quota)
{
	if (root == NULL || *root == '\0') {
		errno = EINVAL;
		return NULL;
	}
	if (fsutil_mkdirs(root, STORE_DIR_MODE) < 0)
		return NULL;
	char real[PATH_MAX];
	if (realpath(root, real) == NULL)
		return NULL;
	/* INBOX is there from the start, as delivery would make it */
	if (store_make_maildir(real, real, true) < 0)
		return NULL;
	struct store *st = calloc(1, sizeof *st);
	if (st == NULL)
		return NULL;
	st->root = strdup(real);
	if (st->root == NULL) {
		free(st);
		errno = ENOMEM;
		return NULL;
	}
	st->quota = quota;
	return st;
}

void store_close(struct store *st)
{
	if (st == NULL)
		return;
	free(st->root);
	free(st);
}

/* The messages and octets (RFC822.SIZE) of one folder, from its cache
 * and a sync: no message file is read unless it is new. */
int store_folder_usage(struct store *st, const char *path, uint64_t *octets, uint64_t *messages)
{
	struct folder *f = folder_get(st->root, path);
	if (f == NULL)
		return -1;
	pthread_mutex_lock(&f->mu);
	int rc = folder_sync(f, false, false);
	if (rc == 0) {
		for (size_t i = 0; i < f->n; i++) {
			*octets += f->msgs[i].vsize;
			(*messages)++;
		}
	}
	pthread_mutex_unlock(&f->mu);
	folder_put(f);
	return rc;
}

/* Over every folder on disk. */
int store_usage(struct store *st, uint64_t *octets, uint64_t *messages)
{
	*octets = 0;
	*messages = 0;
	char **names;
	size_t n;
	if (store_folder_names(st, &names, &n) < 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		char path[PATH_MAX];
		if (store_folder_path(st, names[i], path, sizeof path) < 0)
			continue;
		if (store_folder_usage(st, path, octets, messages) < 0 && errno != ENOENT)
			rc = -1; /* a folder deleted meanwhile counts nothing */
	}
	subs_free(names, n);
	return rc;
}

/* Would adding octets go over the quota (CONTRACT.md mailbox-quota:
 * full when usage is at or over it)? */
enum imap_store_result store_quota_check(struct store *st, uint64_t octets)
{
	if (st->quota == 0)
		return IMAP_STORE_OK;
	uint64_t used, msgs;
	if (store_usage(st, &used, &msgs) < 0)
		return IMAP_STORE_ERROR;
	if (used >= st->quota || octets > st->quota - used)
		return IMAP_STORE_OVERQUOTA;
	return IMAP_STORE_OK;
}

enum imap_store_result store_quota(struct store *st, uint64_t *used, uint64_t *limit, uint64_t *messages)
{
	if (store_usage(st, used, messages) < 0)
		return IMAP_STORE_ERROR;
	*limit = st->quota;
	return IMAP_STORE_OK;
}
