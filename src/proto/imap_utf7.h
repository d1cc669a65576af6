/*
 * imap_utf7 — mailbox names between the wire and the disk: modified
 * UTF-7 (RFC 3501 5.1.3, RFC 9051 5.1.3 and appendix A) and UTF-8.
 *
 * IMAP4rev1 clients send and expect names in modified UTF-7; IMAP4rev2
 * clients (ENABLE IMAP4rev2 or UTF8=ACCEPT) use UTF-8. The folders on
 * disk are named in modified UTF-7, as Dovecot names them (CONTRACT.md
 * "Folders"), so a name is converted at most once each way.
 */
#ifndef TERN_IMAP_UTF7_H
#define TERN_IMAP_UTF7_H

#include <stdbool.h>
#include <stddef.h>

/* Is in[0..n) canonical modified UTF-7: printable US-ASCII (0x20-0x7e),
 * "&-" for "&", and "&...-" runs of modified BASE64 that decode to
 * UTF-16 with no unpaired surrogates, no zero padding bits left over, no
 * run that could have been written as plain ASCII (a printable ASCII
 * character encoded), no two runs side by side ("&AAA-&BBB-") and no
 * empty run ("&-" is the ampersand, not an empty run)? */
bool imap_utf7_is_valid(const char *in, size_t n);

/* Decode modified UTF-7 into UTF-8, NUL-terminated. 0, or -1 when the
 * input is not valid (imap_utf7_is_valid) or out (outlen octets, the
 * NUL included) is too small. */
int imap_utf7_to_utf8(const char *in, size_t n, char *out, size_t outlen);

/* Encode UTF-8 into canonical modified UTF-7, NUL-terminated. 0, or -1
 * when the input is not valid UTF-8 (overlong forms, surrogates, code
 * points above U+10FFFF, control characters U+0000-U+001F and U+007F
 * are all refused: they have no place in a mailbox name) or out is too
 * small. */
int imap_utf8_to_utf7(const char *in, size_t n, char *out, size_t outlen);

/* Is in[0..n) valid UTF-8 (the rules of imap_utf8_to_utf7, controls
 * refused too)? */
bool imap_utf8_is_valid_name(const char *in, size_t n);

#endif
