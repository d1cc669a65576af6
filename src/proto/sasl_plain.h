/*
 * sasl_plain — the PLAIN mechanism's message (RFC 4616 2):
 * [authzid] NUL authcid NUL passwd, once base64 is decoded. One decoder
 * for every face that logs users in (SMTP AUTH, POP3 AUTH, IMAP
 * AUTHENTICATE), so that what counts as a well-formed response, and the
 * refusal to act for another identity, are written once.
 */
#ifndef TERN_SASL_PLAIN_H
#define TERN_SASL_PLAIN_H

#include <stddef.h>

enum sasl_plain_status {
	SASL_PLAIN_OK,
	SASL_PLAIN_MALFORMED,  /* not two NULs, an empty user, a NUL in the password, too long */
	SASL_PLAIN_AUTHZID,    /* an authorization identity other than the user: not offered */
};

struct sasl_plain {
	char user[256];        /* the authcid, NUL-terminated */
	char pass[1025];       /* the password, NUL-terminated; wipe it after use */
};

/* Split a decoded PLAIN message d[0..n) into out (user and password of
 * at most user_max / pass_max octets). */
enum sasl_plain_status sasl_plain_split(const unsigned char *d, size_t n, size_t user_max, size_t pass_max,
                                        struct sasl_plain *out);

#endif
