/*
 * mail_addrlist — what a submission client reads from a message's header
 * section (RFC 5322 2.2, 3.4): the header section's extent, a field's
 * unfolded value (2.2.3), the addr-specs of an address-list (3.4: mailbox,
 * name-addr with a display name, group, comments, quoted strings), and the
 * removal of a field with its continuation lines (Bcc, 3.6.3). Pure.
 *
 * Deliberately forgiving in what it reads (the message is the user's, and
 * the addresses found are checked afterwards as SMTP mailboxes): it never
 * fails, it only finds fewer addresses.
 */
#ifndef TERN_MAIL_ADDRLIST_H
#define TERN_MAIL_ADDRLIST_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

/* The length of the header section of msg[0..n): up to and including the
 * first empty line (LF or CR LF), or up to the first line that is neither
 * a field nor a continuation (a message without a header section gives 0). */
size_t mail_addrlist_header_len(const char *msg, size_t n);

/* Append the unfolded values of every field called `name` (case-insensitive)
 * in the header section hdr[0..hlen) to out, separated by ", ". Returns
 * the number of such fields; -1 when out is full. */
int mail_addrlist_field(const char *hdr, size_t hlen, const char *name, struct buf *out);

/* Call cb for each addr-spec of the address-list s[0..n) (display names,
 * comments, group names and source routes dropped; whitespace outside
 * quoted strings removed). */
void mail_addrlist_parse(const char *s, size_t n, void (*cb)(void *arg, const char *addr, size_t len), void *arg);

/* Remove every field called `name` with its continuation lines from the
 * header section of msg[0..n), in place; returns the new length of the
 * whole message. */
size_t mail_addrlist_remove_field(char *msg, size_t n, const char *name);

#endif
