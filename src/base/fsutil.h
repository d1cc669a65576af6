/*
 * fsutil — small helpers for files that must survive a crash.
 *
 * The durability recipe every writer under the data-dir follows
 * (STYLE.md principle 9), and why each step is there:
 *
 *   1. write the new file under a temporary name in the same file system
 *      (O_EXCL, so two writers never share it);
 *   2. fsync the file: without it, a crash after the rename can leave a
 *      name pointing at an empty or partly written file (ext4 delalloc,
 *      XFS);
 *   3. rename it to its final name: the only step that makes it visible,
 *      and it is atomic — readers see the old state or the new one;
 *   4. fsync the directory: the rename is an update of the directory, and
 *      until the directory is flushed a crash can undo it. Only now may
 *      the caller answer 250 or record a delivery as done.
 *
 * fsutil_replace_file() does all four for a small file held in memory;
 * the queue and the Maildir writer stream large files and do the steps
 * themselves with the other helpers here.
 *
 * Every helper retries on EINTR and finishes short writes; errors come
 * back as -1 with errno set, never as a message. All of them block: call
 * them from the worker pool, not from the event loop.
 */
#ifndef TERN_FSUTIL_H
#define TERN_FSUTIL_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Write all n octets of p to fd. 0, or -1 with errno (ENOSPC, EDQUOT,
 * EFBIG, EIO...); after a failure an unknown prefix may have been written. */
int fsutil_write_all(int fd, const void *p, size_t n);

/* Read until n octets or end of file. Returns the count (less than n only
 * at end of file), or -1 with errno. */
ssize_t fsutil_read_all(int fd, void *p, size_t n);

/* The same at an offset, without moving the file position. */
ssize_t fsutil_pread_all(int fd, void *p, size_t n, off_t off);

/* fsync / fdatasync, retried on EINTR. */
/*
 * Is the open file fd fit to hold a secret (a DKIM key, the SRS key)? It
 * must be a regular file owned by root or by us, with none of the mode
 * bits in `forbidden` (S_IROTH|S_IWGRP|S_IWOTH for a key a group may
 * read, 077 for one only we may). NULL, or why not, for the message;
 * *st is filled for the caller's own checks (its size).
 */
const char *fsutil_secret_file_problem(int fd, mode_t forbidden, struct stat *st);
int fsutil_fsync(int fd);
int fsutil_fdatasync(int fd);

/* Flush a directory's entries (the step after a rename, create or
 * unlink). A file system that cannot sync directories (EINVAL) counts as
 * success: there is nothing more that could be done there. */
int fsutil_fsync_dir(const char *path);

/* Flush the directory that holds path ("a/b/c" flushes "a/b"). */
int fsutil_fsync_parent(const char *path);

/* mkdir -p with mode for every directory it creates. Durable: after each
 * mkdir the parent directory is flushed, so a new directory does not
 * vanish in a crash with the files later placed in it. 0, or -1 with
 * errno (ENOTDIR when a component exists and is not a directory). */
int fsutil_mkdirs(const char *path, mode_t mode);

/* Read a whole small file into a fresh NUL-terminated allocation (*out,
 * owned by the caller; *len excludes the NUL). More than max octets:
 * -1 with EFBIG. */
int fsutil_read_file(const char *path, size_t max, char **out, size_t *len);

/* Replace path with the n octets of p, following the whole recipe above:
 * a temporary file next to it, fsync, rename, fsync of the directory.
 * A crash leaves either the old file or the new one, never a mix. */
int fsutil_replace_file(const char *path, const void *p, size_t n, mode_t mode);

#endif
