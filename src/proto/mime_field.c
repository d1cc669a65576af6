/*
 * mime_field — the lexical tokens of RFC 5322 3.2 (comments, quoted
 * strings, atoms) and the Content-* fields a body structure is made of:
 * Content-Type with its parameters (RFC 2045 5.1), including RFC 2231
 * continuations, Content-Transfer-Encoding (RFC 2045 6.1), Content-ID
 * and Content-Description (RFC 2045 7, 8), Content-Disposition (RFC
 * 2183), Content-Language (RFC 3282), Content-Location (RFC 2557 4) and
 * Content-MD5 (RFC 1864). See mime_internal.h.
 *
 * Broken fields are read as far as they make sense, the way Dovecot
 * reads them, so that clients see the same structure: text after a
 * parameter's value is skipped up to the next ";", a name without "="
 * ends the parameters; a Content-Disposition without a valid type has
 * the type ""; a Content-Transfer-Encoding that is not one token is
 * ignored (7bit). Unlike Dovecot, a Content-Type without a valid type
 * "/" subtype is replaced by the default, as RFC 2045 5.2 recommends,
 * instead of being echoed.
 *
 * RFC 2231 parameters are merged but not decoded, as Dovecot does:
 * name*0, name*1... become one "name" (or "name*" when any piece is
 * extended, its value then starting with charset'language' and pieces
 * that were not extended having "%" written as "%25"); pieces with a
 * gap in their numbers are passed on one by one. Merged parameters come
 * after the plain ones.
 *
 * Pure: the only memory is the caller's store.
 */
#include "proto/mime_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A parameter while parsing: offsets into store->text, which may move. */
struct mime_field_kv {
	size_t no, nl, vo, vl;
};

/* An RFC 2231 piece "name*<idx>[*]" being sorted. */
struct mime_field_piece {
	const char *base;
	size_t bl;
	unsigned long idx;
	bool ext;
	size_t kv; /* its index among the parsed parameters */
};

static const char *const mime_field_names[MIME_CF_N] = {
	[MIME_CF_TYPE] = "Content-Type",
	[MIME_CF_ENCODING] = "Content-Transfer-Encoding",
	[MIME_CF_ID] = "Content-ID",
	[MIME_CF_DESCRIPTION] = "Content-Description",
	[MIME_CF_MD5] = "Content-MD5",
	[MIME_CF_DISPOSITION] = "Content-Disposition",
	[MIME_CF_LANGUAGE] = "Content-Language",
	[MIME_CF_LOCATION] = "Content-Location",
};

bool mime_field_is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

bool mime_field_ieq(const char *a, size_t an, const char *b)
{
	size_t bn = strlen(b);
	return an == bn && strncasecmp(a, b, an) == 0;
}

enum mime_cf mime_field_which(const char *name, size_t n)
{
	if (n < 10 || strncasecmp(name, "Content-", 8) != 0)
		return MIME_CF_N;
	for (int i = 0; i < MIME_CF_N; i++)
		if (mime_field_ieq(name, n, mime_field_names[i]))
			return (enum mime_cf)i;
	return MIME_CF_N;
}

bool mime_field_is_atext(unsigned char c)
{
	if (c >= 128)
		return true;
	if (c <= 32 || c == 127)
		return false;
	return strchr("()<>[]:;@\\,.\"", c) == NULL;
}

/* RFC 2045 5.1 token: printable ASCII but tspecials (8-bit octets are
 * taken as token text, as Dovecot takes them). */
static bool mime_field_is_token(unsigned char c)
{
	if (c >= 128)
		return true;
	if (c <= 32 || c == 127)
		return false;
	return strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

void mime_field_skip_cfws(const char *s, size_t n, size_t *i, struct mime_str *comment)
{
	size_t k = *i;
	while (k < n) {
		unsigned char c = (unsigned char)s[k];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			k++;
			continue;
		}
		if (c != '(')
			break;
		/* a comment; nesting is a counter, never recursion */
		size_t start = ++k, depth = 1, stop = n;
		while (k < n) {
			c = (unsigned char)s[k++];
			if (c == '\\') {
				if (k < n)
					k++;
			} else if (c == '(') {
				depth++;
			} else if (c == ')' && --depth == 0) {
				stop = k - 1;
				break;
			}
		}
		if (comment)
			*comment = (struct mime_str){s + start, stop - start};
	}
	*i = k;
}

int mime_field_quoted(const char *s, size_t n, size_t *i, struct buf *out)
{
	size_t k = *i + 1, start = k;
	while (k < n && s[k] != '"') {
		if (s[k] == '\\' && k + 1 < n) {
			if (buf_append(out, s + start, k - start) < 0)
				return -1;
			start = k + 1;
			k += 2;
			continue;
		}
		k++;
	}
	if (buf_append(out, s + start, k - start) < 0)
		return -1;
	*i = k < n ? k + 1 : n;
	return 0;
}

static struct mime_str mime_field_token(const char *s, size_t n, size_t *i)
{
	size_t k = *i;
	while (k < n && mime_field_is_token((unsigned char)s[k]))
		k++;
	struct mime_str t = {s + *i, k - *i};
	*i = k;
	return t;
}

/* Room for one more parsed parameter. */
static int mime_field_kv_grow(struct mime_field_store *st, size_t n)
{
	if (n < st->kvcap)
		return 0;
	size_t cap = st->kvcap ? st->kvcap * 2 : 16;
	struct mime_field_kv *kv = realloc(st->kv, cap * sizeof *kv);
	if (kv == NULL)
		return -1;
	st->kv = kv;
	st->kvcap = cap;
	return 0;
}

static int mime_field_kv_add(struct mime_field_store *st, size_t *n, size_t no, size_t nl, size_t vo, size_t vl)
{
	if (mime_field_kv_grow(st, *n) < 0)
		return -1;
	st->kv[(*n)++] = (struct mime_field_kv){no, nl, vo, vl};
	return 0;
}

/*
 * *(";" attribute "=" value) from s[i] (RFC 2045 5.1), appended to
 * st->kv from index *n on, the text in st->text.
 */
static int mime_field_params(struct mime_field_store *st, const char *s, size_t n, size_t i, size_t *count)
{
	for (;;) {
		mime_field_skip_cfws(s, n, &i, NULL);
		if (i >= n)
			return 0;
		if (s[i] != ';') {
			/* garbage: on to the next parameter */
			const char *semi = memchr(s + i, ';', n - i);
			if (semi == NULL)
				return 0;
			i = (size_t)(semi - s);
		}
		i++;
		mime_field_skip_cfws(s, n, &i, NULL);
		struct mime_str key = mime_field_token(s, n, &i);
		if (key.n == 0)
			continue;
		mime_field_skip_cfws(s, n, &i, NULL);
		if (i >= n || s[i] != '=')
			return 0; /* "; name" without a value ends the list, as in Dovecot */
		i++;
		mime_field_skip_cfws(s, n, &i, NULL);
		size_t no = st->text.len;
		if (buf_append(&st->text, key.p, key.n) < 0)
			return -1;
		size_t vo = st->text.len;
		if (i < n && s[i] == '"') {
			if (mime_field_quoted(s, n, &i, &st->text) < 0)
				return -1;
		} else if (i < n && s[i] == '=') {
			/* Dovecot's allowance for name==?utf-8?b?...?= */
			size_t k = i;
			while (k < n && s[k] != ';' && s[k] != ' ' && s[k] != '\t' && s[k] != '\r' && s[k] != '\n')
				k++;
			if (buf_append(&st->text, s + i, k - i) < 0)
				return -1;
			i = k;
		} else {
			struct mime_str v = mime_field_token(s, n, &i);
			if (buf_append(&st->text, v.p, v.n) < 0)
				return -1;
		}
		if (mime_field_kv_add(st, count, no, key.n, vo, st->text.len - vo) < 0)
			return -1;
	}
}

static int mime_field_piece_cmp(const void *a, const void *b)
{
	const struct mime_field_piece *x = a, *y = b;
	size_t m = x->bl < y->bl ? x->bl : y->bl;
	int c = strncasecmp(x->base, y->base, m);
	if (c != 0)
		return c;
	if (x->bl != y->bl)
		return x->bl < y->bl ? -1 : 1;
	if (x->idx != y->idx)
		return x->idx < y->idx ? -1 : 1;
	return x->kv < y->kv ? -1 : (x->kv > y->kv);
}

/* Is the parameter name an RFC 2231 piece "base*[digits][*]"? */
static bool mime_field_piece_of(const char *name, size_t nl, struct mime_field_piece *pc)
{
	const char *star = memchr(name, '*', nl);
	if (star == NULL)
		return false;
	size_t k = (size_t)(star - name) + 1, digits = 0;
	unsigned long idx = 0;
	while (k < nl && name[k] >= '0' && name[k] <= '9' && digits < 9) {
		idx = idx * 10 + (unsigned long)(name[k] - '0');
		k++;
		digits++;
	}
	bool ext = false;
	if (k < nl && name[k] == '*') {
		ext = true;
		k++;
	} else if (digits == 0) {
		ext = true; /* "name*" is a whole extended value (RFC 2231 4) */
	}
	if (k != nl)
		return false;
	pc->base = name;
	pc->bl = (size_t)(star - name);
	pc->idx = idx;
	pc->ext = ext;
	return true;
}

/* Append "%"-escaped text (RFC 2231 4: a plain piece joined to extended ones). */
static int mime_field_escape(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((s[i] == '%' ? buf_puts(b, "%25") : buf_putc(b, s[i])) < 0)
			return -1;
	return 0;
}

/*
 * Merge the RFC 2231 pieces among st->kv[first, *count): the plain
 * parameters stay where they are, the merged ones are put after them.
 */
static int mime_field_merge(struct mime_field_store *st, size_t first, size_t *count)
{
	size_t total = *count, np = 0;
	struct mime_field_piece pc;
	for (size_t j = first; j < total; j++)
		if (mime_field_piece_of(st->text.data + st->kv[j].no, st->kv[j].nl, &pc))
			np++;
	if (np == 0)
		return 0;
	/* the text grows below: the pieces are read from a copy */
	char *copy = malloc(st->text.len + 1);
	struct mime_field_kv *old = malloc(total * sizeof *old);
	struct mime_field_piece *pcs = calloc(np, sizeof *pcs);
	int rc = copy && old && pcs ? 0 : -1;
	if (rc == 0) {
		memcpy(copy, st->text.data, st->text.len);
		memcpy(old, st->kv, total * sizeof *old);
		size_t keep = first, m = 0;
		for (size_t j = first; j < total; j++) {
			if (mime_field_piece_of(copy + old[j].no, old[j].nl, &pc)) {
				pc.kv = j;
				pcs[m++] = pc;
			} else {
				st->kv[keep++] = old[j];
			}
		}
		*count = keep;
		qsort(pcs, np, sizeof *pcs, mime_field_piece_cmp);
	}
	for (size_t g = 0; g < np && rc == 0;) {
		size_t e = g;
		bool ok = true, any_ext = false;
		while (e < np && pcs[e].bl == pcs[g].bl && strncasecmp(pcs[e].base, pcs[g].base, pcs[g].bl) == 0) {
			if (pcs[e].idx != e - g)
				ok = false;
			any_ext |= pcs[e].ext;
			e++;
		}
		if (ok) {
			size_t no = st->text.len;
			rc |= buf_append(&st->text, pcs[g].base, pcs[g].bl);
			if (any_ext)
				rc |= buf_putc(&st->text, '*');
			size_t vo = st->text.len;
			if (any_ext && !pcs[g].ext)
				rc |= buf_puts(&st->text, "''");
			for (size_t j = g; j < e && rc == 0; j++) {
				const struct mime_field_kv *kv = &old[pcs[j].kv];
				if (any_ext && !pcs[j].ext)
					rc |= mime_field_escape(&st->text, copy + kv->vo, kv->vl);
				else
					rc |= buf_append(&st->text, copy + kv->vo, kv->vl);
			}
			if (rc == 0)
				rc = mime_field_kv_add(st, count, no, vo - no, vo, st->text.len - vo);
		} else {
			/* a gap in the numbers: not RFC 2231 after all */
			for (size_t j = g; j < e && rc == 0; j++) {
				const struct mime_field_kv *kv = &old[pcs[j].kv];
				size_t no = st->text.len;
				rc |= buf_append(&st->text, pcs[j].base, pcs[j].bl);
				rc |= buf_printf(&st->text, "*%lu%s", pcs[j].idx, pcs[j].ext ? "*" : "");
				size_t vo = st->text.len;
				rc |= buf_append(&st->text, copy + kv->vo, kv->vl);
				if (rc == 0)
					rc = mime_field_kv_add(st, count, no, vo - no, vo, kv->vl);
			}
		}
		g = e;
	}
	free(copy);
	free(old);
	free(pcs);
	return rc < 0 ? -1 : 0;
}

/* Turn the parameters st->kv[from, to) into st->params[from, to). */
static int mime_field_resolve(struct mime_field_store *st, size_t to)
{
	if (to > st->pcap) {
		struct mime_param *p = realloc(st->params, to * sizeof *p);
		if (p == NULL)
			return -1;
		st->params = p;
		st->pcap = to;
	}
	for (size_t j = 0; j < to; j++) {
		const struct mime_field_kv *kv = &st->kv[j];
		st->params[j].name = (struct mime_str){st->text.data + kv->no, kv->nl};
		st->params[j].value = (struct mime_str){st->text.data + kv->vo, kv->vl};
	}
	return 0;
}

static struct mime_str mime_field_param_get(const struct mime_param *ps, size_t n, const char *name)
{
	for (size_t j = 0; j < n; j++)
		if (mime_field_ieq(ps[j].name.p, ps[j].name.n, name))
			return ps[j].value;
	return (struct mime_str){NULL, 0};
}

/* RFC 3282: Content-Language = 1#Language-tag; every tag is an atom. */
static int mime_field_languages(struct mime_field_store *st, struct mime_str v, size_t *count)
{
	size_t i = 0;
	*count = 0;
	for (;;) {
		mime_field_skip_cfws(v.p, v.n, &i, NULL);
		size_t k = i;
		while (k < v.n && mime_field_is_atext((unsigned char)v.p[k]))
			k++;
		if (k == i)
			return 0;
		if (*count == st->lcap) {
			size_t cap = st->lcap ? st->lcap * 2 : 8;
			struct mime_str *l = realloc(st->langs, cap * sizeof *l);
			if (l == NULL)
				return -1;
			st->langs = l;
			st->lcap = cap;
		}
		st->langs[(*count)++] = (struct mime_str){v.p + i, k - i};
		i = k;
		mime_field_skip_cfws(v.p, v.n, &i, NULL);
		if (i >= v.n || v.p[i] != ',')
			return 0;
		i++;
	}
}

static void mime_field_default(struct mime_content *c, bool in_digest)
{
	c->defaulted = true;
	c->nparams = 0;
	if (in_digest) {
		/* RFC 2046 5.1.5 */
		c->kind = MIME_KIND_MESSAGE;
		c->type = (struct mime_str){"message", 7};
		c->subtype = (struct mime_str){"rfc822", 6};
	} else {
		/* RFC 2045 5.2 */
		c->kind = MIME_KIND_TEXT;
		c->type = (struct mime_str){"text", 4};
		c->subtype = (struct mime_str){"plain", 5};
	}
}

int mime_field_content(struct mime_field_store *st, const struct mime_str raw[MIME_CF_N], bool is_mime,
                       bool in_digest, struct mime_content *c)
{
	memset(c, 0, sizeof *c);
	buf_reset(&st->text);
	size_t nct = 0, ndisp = 0;
	bool valid = false;

	struct mime_str ct = raw[MIME_CF_TYPE];
	if (is_mime && ct.p) {
		size_t i = 0;
		mime_field_skip_cfws(ct.p, ct.n, &i, NULL);
		c->type = mime_field_token(ct.p, ct.n, &i);
		mime_field_skip_cfws(ct.p, ct.n, &i, NULL);
		if (i < ct.n && ct.p[i] == '/') {
			i++;
			mime_field_skip_cfws(ct.p, ct.n, &i, NULL);
			c->subtype = mime_field_token(ct.p, ct.n, &i);
			valid = c->type.n > 0 && c->subtype.n > 0;
		}
		if (valid && (mime_field_params(st, ct.p, ct.n, i, &nct) < 0 || mime_field_merge(st, 0, &nct) < 0))
			return -1;
	}
	if (!valid) {
		mime_field_default(c, in_digest);
		nct = 0;
	} else if (mime_field_ieq(c->type.p, c->type.n, "multipart")) {
		c->kind = MIME_KIND_MULTIPART;
		c->digest = mime_field_ieq(c->subtype.p, c->subtype.n, "digest");
	} else if (mime_field_ieq(c->type.p, c->type.n, "message") &&
	           (mime_field_ieq(c->subtype.p, c->subtype.n, "rfc822") ||
	            mime_field_ieq(c->subtype.p, c->subtype.n, "global"))) {
		/* RFC 9051's media-message: RFC822 and GLOBAL (RFC 6532) */
		c->kind = MIME_KIND_MESSAGE;
	} else if (mime_field_ieq(c->type.p, c->type.n, "text")) {
		c->kind = MIME_KIND_TEXT;
	} else {
		c->kind = MIME_KIND_OTHER;
	}
	if (!is_mime)
		return 0;

	struct mime_str v = raw[MIME_CF_ENCODING];
	if (v.p) {
		size_t i = 0;
		mime_field_skip_cfws(v.p, v.n, &i, NULL);
		struct mime_str t = mime_field_token(v.p, v.n, &i);
		mime_field_skip_cfws(v.p, v.n, &i, NULL);
		if (t.n > 0 && i == v.n)
			c->encoding = t;
	}
	c->id = raw[MIME_CF_ID];
	c->description = raw[MIME_CF_DESCRIPTION];
	c->md5 = raw[MIME_CF_MD5];
	c->location = raw[MIME_CF_LOCATION];

	v = raw[MIME_CF_DISPOSITION];
	if (v.p) {
		size_t i = 0;
		mime_field_skip_cfws(v.p, v.n, &i, NULL);
		/* a field without a valid type is still a disposition: "",
		 * with whatever parameters follow, as Dovecot answers */
		struct mime_str t = mime_field_token(v.p, v.n, &i);
		c->disposition = t.n > 0 ? t : (struct mime_str){"", 0};
		ndisp = nct;
		if (mime_field_params(st, v.p, v.n, i, &ndisp) < 0 || mime_field_merge(st, nct, &ndisp) < 0)
			return -1;
		ndisp -= nct;
	}
	if (raw[MIME_CF_LANGUAGE].p && mime_field_languages(st, raw[MIME_CF_LANGUAGE], &c->nlanguages) < 0)
		return -1;
	c->languages = st->langs;

	if (mime_field_resolve(st, nct + ndisp) < 0)
		return -1;
	c->params = st->params;
	c->nparams = nct;
	c->dparams = st->params + nct;
	c->ndparams = ndisp;
	c->charset = mime_field_param_get(c->params, c->nparams, "charset");
	c->boundary = mime_field_param_get(c->params, c->nparams, "boundary");
	return 0;
}

void mime_field_store_free(struct mime_field_store *st)
{
	buf_free(&st->text);
	free(st->kv);
	free(st->params);
	free(st->langs);
	st->kv = NULL;
	st->params = NULL;
	st->langs = NULL;
	st->kvcap = st->pcap = st->lcap = 0;
}
