/*
 * datadir — the start-up trust check of the data-dir (CONTRACT.md, "Rules
 * every role keeps"), in the manner of OpenSMTPD's ckdir: before the
 * server writes a queue file or a key, the directories it keeps there
 * must be its own. Each must be a real directory (not a symbolic link),
 * owned by root or by the account tern runs as, and writable by nobody
 * else; the sendmail drop area is the one directory others may write
 * into (mode 03733 with the sticky bit, see queue/queue_drop.h). The
 * self-signed TLS pair tern keeps in tls/ must be regular files, the key
 * readable by its owner only.
 *
 * Nothing is repaired: a directory that fails was not left so by tern
 * (every directory tern makes is 0700 or the drop area's mode), so the
 * operator is told which path and why, and `tern serve` exits 78.
 */
#ifndef TERN_DATADIR_H
#define TERN_DATADIR_H

#include <stdbool.h>
#include <stddef.h>

/* The data-dir itself, before anything is made in it: may be missing.
 * A symbolic link to it is allowed (an operator's choice); nothing
 * inside it may be one. 0, or -1 with "PATH: reason" in err. */
int datadir_check_root(const char *data_dir, char *err, size_t errlen);

/* Everything tern keeps in it, once made: data-dir, queue/ and its
 * subdirectories, tls/ (and the self-signed pair when self_signed),
 * mail/ and its domain directories. 0, or -1 with "PATH: reason". */
int datadir_check(const char *data_dir, bool self_signed, char *err, size_t errlen);

#endif
