/*
 * maildir — delivery of one queued message into one Maildir
 * (DATA-DIR/mail/DOMAIN/LOCAL/{tmp,new,cur}), the only other code that
 * writes under the data-dir. Blocking: runs on the worker pool.
 *
 * The file is written to tmp/, fsync'ed, renamed into new/, and new/ is
 * fsync'ed before maildir_deliver() returns 0 (CONTRACT.md "Where mail
 * lands"). The headers in `prefix` (Return-Path, Delivered-To, already
 * LF-terminated) go first, then the queued content unchanged.
 */
#ifndef TERN_MAILDIR_H
#define TERN_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* domain and local must already be lower case and safe as file names
 * (smtp_addr_local_is_plain); maildir refuses '/', "." and ".." anyway.
 * content: fd positioned at the content start, content_len octets.
 * On success the final path is written to path_out (if not NULL).
 * Returns 0, or -1 with errno (ENOSPC, EDQUOT, EIO... : retry later). */
int maildir_deliver(const char *data_dir, const char *domain, const char *local, const char *prefix,
                    size_t prefix_len, int content_fd, uint64_t content_len, char *path_out,
                    size_t path_len);

/* The same, with a caller-chosen unique part (letters, digits, '.', '_'):
 * the file is named KEY.HOST, and if such a file is already in new/ (or,
 * when `thorough`, in cur/ with a ':' or ',' suffix) nothing is written
 * and 0 is returned. A delivery
 * keyed by queue id and recipient is thus idempotent: a retry after a
 * crash between the Maildir rename and the queue's record of it does not
 * deliver twice. */
/* folder: NULL for INBOX, or a Maildir++ folder directory (".Junk")
 * made as the IMAP store makes it when it is missing. */
int maildir_deliver_keyed(const char *data_dir, const char *domain, const char *local, const char *folder,
                          const char *key, bool thorough, const char *prefix, size_t prefix_len, int content_fd,
                          uint64_t content_len, char *path_out, size_t path_len);

#endif
