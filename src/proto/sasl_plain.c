/*
 * sasl_plain — RFC 4616 PLAIN messages. See sasl_plain.h.
 */
#include "proto/sasl_plain.h"

#include <string.h>
#include <strings.h>

enum sasl_plain_status sasl_plain_split(const unsigned char *d, size_t n, size_t user_max, size_t pass_max,
                                        struct sasl_plain *out)
{
	memset(out, 0, sizeof *out);
	if (user_max >= sizeof out->user)
		user_max = sizeof out->user - 1;
	if (pass_max >= sizeof out->pass)
		pass_max = sizeof out->pass - 1;
	const unsigned char *nul1 = memchr(d, '\0', n);
	const unsigned char *nul2 = nul1 ? memchr(nul1 + 1, '\0', n - (size_t)(nul1 + 1 - d)) : NULL;
	if (nul2 == NULL)
		return SASL_PLAIN_MALFORMED;
	size_t zlen = (size_t)(nul1 - d);
	const unsigned char *user = nul1 + 1;
	size_t ulen = (size_t)(nul2 - user);
	const unsigned char *pass = nul2 + 1;
	size_t plen = n - (size_t)(pass - d);
	if (ulen == 0 || ulen > user_max || plen > pass_max || memchr(pass, '\0', plen))
		return SASL_PLAIN_MALFORMED;
	/* Acting for someone else is not offered: the authzid is empty or
	 * the user itself. */
	if (zlen && (zlen != ulen || strncasecmp((const char *)d, (const char *)user, ulen) != 0))
		return SASL_PLAIN_AUTHZID;
	memcpy(out->user, user, ulen);
	memcpy(out->pass, pass, plen);
	return SASL_PLAIN_OK;
}
