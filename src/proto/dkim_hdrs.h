/*
 * dkim_hdrs — a message's header section as DKIM sees it: found in a
 * stream of message octets, split into fields, searched bottom-up for
 * the fields an h= list names (RFC 6376 5.4.2), and turned into the data
 * that is hashed and signed (3.7): the selected fields canonicalized,
 * then the DKIM-Signature field itself with b= blanked and no final
 * CRLF.
 *
 * Pure. Holds the header section (at most DKIM_HEADER_MAX octets, at most
 * DKIM_FIELDS_MAX fields); the body is not kept.
 */
#ifndef TERN_DKIM_HDRS_H
#define TERN_DKIM_HDRS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "proto/dkim_sig.h"

struct dkim_field {
	size_t off;      /* in raw */
	size_t len;      /* continuation lines included, final line end not */
	size_t name_len; /* up to the colon, WSP before it excluded; 0 without a colon */
};

struct dkim_hdrs {
	struct buf raw;          /* the header section as it came, owned */
	struct dkim_field *f;    /* owned, nf of them */
	size_t nf, capf;
	bool done;               /* the empty line (or the end) was seen */
	bool too_large;          /* a limit was passed; the section is unusable */
	int eol;                 /* end-of-section detector: 0, or 1 after a line end, 2 after CR there */
	bool at_start;           /* nothing fed yet */
};

void dkim_hdrs_init(struct dkim_hdrs *h);
void dkim_hdrs_free(struct dkim_hdrs *h);

/*
 * Feed message octets. Returns how many of p[0..n) belong to the header
 * section, the empty line that ends it included; once h->done, the
 * octets after that count are the body. Octets past DKIM_HEADER_MAX set
 * h->too_large (and are still counted as header).
 */
size_t dkim_hdrs_feed(struct dkim_hdrs *h, const char *p, size_t n);

/* The message ended (a message without a body needs no empty line). */
void dkim_hdrs_finish(struct dkim_hdrs *h);

/* Field i's text, and whether its name is name (without case). */
const char *dkim_hdrs_text(const struct dkim_hdrs *h, size_t i, size_t *len);
bool dkim_hdrs_is(const struct dkim_hdrs *h, size_t i, const char *name, size_t name_len);
/* How many fields have that name. */
size_t dkim_hdrs_count(const struct dkim_hdrs *h, const char *name);

/*
 * The signed data of sig (RFC 6376 3.7, 5.4.2): for each h= name the
 * last field of that name not yet taken, canonicalized with sig->hcanon
 * (a name with no field left adds nothing: that is how oversigning
 * guards against a field added later); then sigfield[0..siglen) without
 * its b= value (sig->b_start..b_end), canonicalized, final CRLF removed.
 * Appends to out; 0, or -1 when out is full.
 */
int dkim_hdrs_signed_data(const struct dkim_hdrs *h, const struct dkim_sig *sig, const char *sigfield, size_t siglen,
                          struct buf *out);

/*
 * Fill sig->h for signing: the fields of the message in the list below
 * that it has, each as often as it appears, and the ones that matter
 * most to a reader (From, To, Cc, Subject, Date, Reply-To) once more
 * than they appear, so that a copy added on the way breaks the
 * signature. 0, or -1 when the message has no From field (RFC 6376
 * 5.4: it must be signed) or too many fields to list.
 */
int dkim_hdrs_sign_list(const struct dkim_hdrs *h, struct dkim_sig *sig);

#endif
