/*
 * authres — see authres.h.
 */
#include "proto/authres.h"

#include <string.h>

/* RFC 2045 tspecials plus space and controls are what a token may not
 * hold (RFC 8601 2.2 takes "value" from RFC 2045). */
static bool authres_token_char(unsigned char c)
{
	return c > 32 && c < 127 && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* A pvalue: a token, or a quoted string. '@' is allowed bare in the
 * addresses of smtp.mailfrom (RFC 8601 2.3: [local-part "@"] domain), so
 * a plain address goes out unquoted, as other receivers write it. */
static int authres_value(struct buf *out, const char *v, bool address)
{
	bool token = v[0] != '\0';
	for (const unsigned char *s = (const unsigned char *)v; *s; s++)
		if (!authres_token_char(*s) && !(address && *s == '@'))
			token = false;
	if (token)
		return buf_append(out, v, strlen(v));
	if (buf_append(out, "\"", 1) < 0)
		return -1;
	for (const unsigned char *s = (const unsigned char *)v; *s; s++) {
		if (*s < 32 || *s == 127)
			continue; /* never a control: no line end can be smuggled in */
		if ((*s == '"' || *s == '\\') && buf_append(out, "\\", 1) < 0)
			return -1;
		if (buf_append(out, (const char *)s, 1) < 0)
			return -1;
	}
	return buf_append(out, "\"", 1);
}

/* A comment made by tern itself: parentheses in it would end it early. */
static int authres_comment(struct buf *out, const char *c)
{
	if (c == NULL || c[0] == '\0')
		return 0;
	if (buf_append(out, " (", 2) < 0)
		return -1;
	for (const unsigned char *s = (const unsigned char *)c; *s; s++) {
		if (*s < 32 || *s == 127)
			continue;
		if ((*s == '(' || *s == ')' || *s == '\\') && buf_append(out, "\\", 1) < 0)
			return -1;
		if (buf_append(out, (const char *)s, 1) < 0)
			return -1;
	}
	return buf_append(out, ")", 1);
}

static int authres_prop(struct buf *out, const char *name, const char *v, bool address)
{
	if (v == NULL || v[0] == '\0')
		return 0;
	if (buf_append(out, " ", 1) < 0 || buf_append(out, name, strlen(name)) < 0 || buf_append(out, "=", 1) < 0)
		return -1;
	return authres_value(out, v, address);
}

static int authres_method(struct buf *out, const char *method, const char *result)
{
	if (buf_append(out, ";\n\t", 3) < 0 || buf_append(out, method, strlen(method)) < 0 ||
	    buf_append(out, "=", 1) < 0)
		return -1;
	return buf_append(out, result, strlen(result));
}

int authres_format(const struct authres *a, struct buf *out)
{
	if (buf_append(out, "Authentication-Results: ", 24) < 0 || authres_value(out, a->authserv_id, false) < 0)
		return -1;
	if (a->spf_done) {
		if (authres_method(out, "spf", spf_result_name(a->spf)) < 0 || authres_comment(out, a->spf_comment) < 0 ||
		    authres_prop(out, a->spf_helo ? "smtp.helo" : "smtp.mailfrom", a->spf_identity, !a->spf_helo) < 0)
			return -1;
	}
	if (a->ndkim == 0 && authres_method(out, "dkim", "none") < 0)
		return -1;
	for (size_t i = 0; i < a->ndkim && i < DKIM_SIGS_MAX; i++) {
		const struct authres_dkim *d = &a->dkim[i];
		if (authres_method(out, "dkim", dkim_result_name(d->result)) < 0 ||
		    authres_comment(out, d->result == DKIM_RESULT_PASS ? NULL : d->comment) < 0 ||
		    authres_prop(out, "header.d", d->d, false) < 0 || authres_prop(out, "header.s", d->s, false) < 0 ||
		    authres_prop(out, "header.b", d->b, false) < 0)
			return -1;
	}
	if (authres_method(out, "dmarc", dmarc_result_name(a->dmarc)) < 0 || authres_comment(out, a->dmarc_comment) < 0 ||
	    authres_prop(out, "header.from", a->dmarc_from, false) < 0)
		return -1;
	return buf_append(out, "\n", 1);
}
