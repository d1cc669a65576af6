/*
 * tree — folder names and where they live (CONTRACT.md "Folders"), the
 * one place that knows the Maildir++ layout of Dovecot's default:
 *
 *   "INBOX"   ROOT itself (ROOT/cur, ROOT/new, ROOT/tmp)
 *   "A.B"     ROOT/.A.B/ with its own cur/new/tmp and the empty file
 *             maildirfolder that tells Maildir++ readers it is a folder
 *
 * The hierarchy is in the names only: ".A.B/" may exist without ".A/"
 * (A is then a name with children but no folder, RFC 9051 6.3.9's
 * \NonExistent). The special-use folders of RFC 6154 (Sent, Drafts,
 * Trash, Junk, Archive) are always offered; their directories are made
 * the first time a command needs them.
 *
 * Does not: read or write messages, uidlists or subscriptions.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "store/store_int.h"

static const struct {
	const char *name;
	unsigned attr;
} tree_special[] = {
	{ "Sent", IMAP_FOLDER_SENT },   { "Drafts", IMAP_FOLDER_DRAFTS }, { "Trash", IMAP_FOLDER_TRASH },
	{ "Junk", IMAP_FOLDER_JUNK },   { "Archive", IMAP_FOLDER_ARCHIVE },
};

bool store_name_ok(const char *name)
{
	return name != NULL && imap_server_name_ok(name, strlen(name));
}

/* INBOX is one name whatever its case (RFC 9051 5.1). */
bool store_name_is_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0;
}

int store_folder_path(const struct store *st, const char *name, char *out, size_t len)
{
	if (!store_name_ok(name)) {
		errno = EINVAL;
		return -1;
	}
	int n = store_name_is_inbox(name) ? snprintf(out, len, "%s", st->root)
	                                  : snprintf(out, len, "%s/.%s", st->root, name);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

unsigned store_special_attr(const char *name)
{
	for (size_t i = 0; i < sizeof tree_special / sizeof *tree_special; i++)
		if (strcmp(name, tree_special[i].name) == 0)
			return tree_special[i].attr;
	return 0;
}

const char *store_special_name(size_t i)
{
	return i < sizeof tree_special / sizeof *tree_special ? tree_special[i].name : NULL;
}

/* A Maildir is there when its cur/ is a directory. */
static bool tree_is_maildir(const char *path)
{
	char cur[PATH_MAX];
	int n = snprintf(cur, sizeof cur, "%s/cur", path);
	struct stat st;
	return n > 0 && (size_t)n < sizeof cur && stat(cur, &st) == 0 && S_ISDIR(st.st_mode);
}

bool store_folder_exists(const char *path)
{
	return tree_is_maildir(path);
}

/*
 * Make the Maildir at path: tmp/, new/, cur/ (each durable in its
 * parent, fsutil_mkdirs), and for a folder other than INBOX the
 * maildirfolder marker, flushed into the folder's directory. Existing
 * parts are left as they are.
 */
int store_make_maildir(const char *root, const char *path, bool is_inbox)
{
	(void)root;
	static const char *const subs[] = { "tmp", "new", "cur" };
	char p[PATH_MAX];
	for (size_t i = 0; i < sizeof subs / sizeof *subs; i++) {
		int n = snprintf(p, sizeof p, "%s/%s", path, subs[i]);
		if (n < 0 || (size_t)n >= sizeof p) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (fsutil_mkdirs(p, STORE_DIR_MODE) < 0)
			return -1;
	}
	if (is_inbox)
		return 0;
	int n = snprintf(p, sizeof p, "%s/maildirfolder", path);
	if (n < 0 || (size_t)n >= sizeof p) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, STORE_FILE_MODE);
	if (fd < 0)
		return -1;
	close(fd);
	return fsutil_fsync_dir(path);
}

enum imap_store_result store_folder_ready(struct store *st, const char *name, char *path, size_t len)
{
	if (store_folder_path(st, name, path, len) < 0)
		return errno == EINVAL ? IMAP_STORE_BADNAME : IMAP_STORE_ERROR;
	if (tree_is_maildir(path))
		return IMAP_STORE_OK;
	bool inbox = store_name_is_inbox(name);
	/* INBOX exists before its first delivery (the mailbox of a user who
	 * never got mail); the special-use folders exist once used. */
	if (!inbox && store_special_attr(name) == 0)
		return IMAP_STORE_NONEXISTENT;
	if (store_make_maildir(st->root, path, inbox) < 0)
		return store_errno_result(errno);
	return IMAP_STORE_OK;
}
