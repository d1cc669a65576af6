/*
 * dkim_hdrs — the header section for DKIM (RFC 6376 3.7, 5.4). See
 * dkim_hdrs.h. Owns the copy of the header section and the field index.
 */
#include "proto/dkim_hdrs.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void dkim_hdrs_init(struct dkim_hdrs *h)
{
	memset(h, 0, sizeof *h);
	buf_init(&h->raw, DKIM_HEADER_MAX);
	h->eol = 1; /* the start counts as just after a line end: an empty first line ends the section */
}

void dkim_hdrs_free(struct dkim_hdrs *h)
{
	if (h == NULL)
		return;
	buf_free(&h->raw);
	free(h->f);
	h->f = NULL;
	h->nf = h->capf = 0;
}

static int dkim_hdrs_add(struct dkim_hdrs *h, size_t off, size_t len)
{
	if (h->nf == DKIM_FIELDS_MAX)
		return -1;
	if (h->nf == h->capf) {
		size_t ncap = h->capf ? h->capf * 2 : 32;
		if (ncap > DKIM_FIELDS_MAX)
			ncap = DKIM_FIELDS_MAX;
		struct dkim_field *nf = realloc(h->f, ncap * sizeof *nf);
		if (nf == NULL)
			return -1;
		h->f = nf;
		h->capf = ncap;
	}
	const char *s = h->raw.data + off;
	const char *colon = memchr(s, ':', len);
	size_t name_len = 0;
	if (colon) {
		name_len = (size_t)(colon - s);
		while (name_len > 0 && (s[name_len - 1] == ' ' || s[name_len - 1] == '\t'))
			name_len--;
	}
	h->f[h->nf++] = (struct dkim_field){.off = off, .len = len, .name_len = name_len};
	return 0;
}

/* Split the section into fields: a line that starts with WSP continues
 * the field before it (RFC 5322 2.2.3); an empty line ends the section. */
static void dkim_hdrs_index(struct dkim_hdrs *h)
{
	const char *s = h->raw.data;
	size_t n = h->raw.len, i = 0;
	bool open = false;
	size_t start = 0, end = 0;
	while (i < n) {
		const char *nl = memchr(s + i, '\n', n - i);
		size_t line_end = nl ? (size_t)(nl - s) : n;      /* the LF, or the end */
		size_t text_end = line_end;
		if (nl && text_end > i && s[text_end - 1] == '\r')
			text_end--;
		size_t next = nl ? line_end + 1 : n;
		if (text_end == i && nl)
			break; /* the empty line */
		if (open && (s[i] == ' ' || s[i] == '\t')) {
			end = text_end;
		} else {
			if (open && dkim_hdrs_add(h, start, end - start) < 0) {
				h->too_large = true;
				return;
			}
			open = true;
			start = i;
			end = text_end;
		}
		i = next;
	}
	if (open && dkim_hdrs_add(h, start, end - start) < 0)
		h->too_large = true;
}

size_t dkim_hdrs_feed(struct dkim_hdrs *h, const char *p, size_t n)
{
	if (h->done)
		return 0;
	size_t i = 0;
	while (i < n && !h->done) {
		char c = p[i++];
		if (c == '\n' && h->eol != 0)
			h->done = true;
		else if (c == '\n')
			h->eol = 1;
		else if (c == '\r' && h->eol == 1)
			h->eol = 2;
		else
			h->eol = 0;
	}
	if (!h->too_large && buf_append(&h->raw, p, i) < 0)
		h->too_large = true;
	if (h->done && !h->too_large)
		dkim_hdrs_index(h);
	return i;
}

void dkim_hdrs_finish(struct dkim_hdrs *h)
{
	if (h->done)
		return;
	h->done = true;
	if (!h->too_large)
		dkim_hdrs_index(h);
}

const char *dkim_hdrs_text(const struct dkim_hdrs *h, size_t i, size_t *len)
{
	*len = h->f[i].len;
	return h->raw.data + h->f[i].off;
}

bool dkim_hdrs_is(const struct dkim_hdrs *h, size_t i, const char *name, size_t name_len)
{
	const struct dkim_field *f = &h->f[i];
	return f->name_len == name_len && name_len > 0 && strncasecmp(h->raw.data + f->off, name, name_len) == 0;
}

size_t dkim_hdrs_count(const struct dkim_hdrs *h, const char *name)
{
	size_t n = 0, len = strlen(name);
	for (size_t i = 0; i < h->nf; i++)
		if (dkim_hdrs_is(h, i, name, len))
			n++;
	return n;
}

int dkim_hdrs_signed_data(const struct dkim_hdrs *h, const struct dkim_sig *sig, const char *sigfield, size_t siglen,
                          struct buf *out)
{
	/* taken[] marks the instances already used, so that a name listed
	 * twice takes the next one up (5.4.2) */
	unsigned char *taken = calloc(h->nf ? h->nf : 1, 1);
	if (taken == NULL)
		return -1;
	int rc = 0;
	for (size_t k = 0; k < sig->nh && rc == 0; k++) {
		size_t len = strlen(sig->h[k]);
		for (size_t i = h->nf; i-- > 0;) {
			if (taken[i] || !dkim_hdrs_is(h, i, sig->h[k], len))
				continue;
			taken[i] = 1;
			size_t flen;
			const char *f = dkim_hdrs_text(h, i, &flen);
			rc = dkim_canon_header(sig->hcanon, f, flen, out);
			break;
		}
	}
	free(taken);
	if (rc < 0 || sig->b_start > sig->b_end || sig->b_end > siglen)
		return -1;
	/* the signature field with "b=" left empty */
	struct buf blank;
	buf_init(&blank, DKIM_FIELD_MAX);
	if (buf_append(&blank, sigfield, sig->b_start) < 0 ||
	    buf_append(&blank, sigfield + sig->b_end, siglen - sig->b_end) < 0 ||
	    dkim_canon_header(sig->hcanon, blank.data, blank.len, out) < 0) {
		buf_free(&blank);
		return -1;
	}
	buf_free(&blank);
	out->len -= 2; /* 3.7: without the CRLF that ends it */
	out->data[out->len] = '\0';
	return 0;
}

/* The fields tern signs: RFC 6376 5.4.1's list of those that matter to a
 * reader, and those whose change alters how the body is shown. */
static const struct {
	const char *name;
	bool oversign;
} dkim_hdrs_signed[] = {
        {"from", true},
        {"reply-to", true},
        {"subject", true},
        {"date", true},
        {"to", true},
        {"cc", true},
        {"message-id", false},
        {"in-reply-to", false},
        {"references", false},
        {"mime-version", false},
        {"content-type", false},
        {"content-transfer-encoding", false},
        {"content-disposition", false},
        {"content-language", false},
        {"sender", false},
        {"resent-date", false},
        {"resent-from", false},
        {"resent-to", false},
        {"resent-cc", false},
        {"resent-message-id", false},
        {"list-id", false},
        {"list-post", false},
        {"list-unsubscribe", false},
        {"list-unsubscribe-post", false},
        {"autocrypt", false},
};

int dkim_hdrs_sign_list(const struct dkim_hdrs *h, struct dkim_sig *sig)
{
	sig->nh = 0;
	if (dkim_hdrs_count(h, "from") == 0)
		return -1;
	for (size_t k = 0; k < sizeof dkim_hdrs_signed / sizeof dkim_hdrs_signed[0]; k++) {
		size_t times = dkim_hdrs_count(h, dkim_hdrs_signed[k].name);
		if (dkim_hdrs_signed[k].oversign)
			times++;
		if (times > DKIM_SIG_H_MAX - sig->nh) {
			if (k == 0)
				return -1; /* From must be signed; the others may be left out */
			continue;
		}
		for (size_t t = 0; t < times; t++) {
			memcpy(sig->h[sig->nh], dkim_hdrs_signed[k].name, strlen(dkim_hdrs_signed[k].name) + 1);
			sig->nh++;
		}
	}
	return 0;
}
