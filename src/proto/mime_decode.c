/*
 * mime_decode — the text decoders SEARCH needs, all streaming (input
 * split anywhere) and bounded: quoted-printable (RFC 2045 6.7, soft line
 * breaks with or without trailing blanks), base64 (RFC 2045 6.8, octets
 * outside the alphabet skipped), charsets to UTF-8 through iconv(3)
 * (RFC 2978 names; an unknown charset is passed through), UTF-8 to code
 * points, simple case folding, and RFC 2047 encoded words in header
 * values (B and Q, blanks between adjacent words dropped, RFC 2047 6.2).
 * See mime_internal.h.
 *
 * Decoding is forgiving, as readers of mail must be: a malformed "=XY"
 * is kept as it is, an invalid multibyte sequence becomes U+FFFD (from
 * iconv) or a code point U+DC00 + octet (raw UTF-8), so that nothing
 * stops a search.
 *
 * The only global is the C.UTF-8 locale object for folding, created
 * once (pthread_once) and never changed.
 */
#include "proto/mime_internal.h"
#include "base/base64.h"

#include <errno.h>
#include <iconv.h>
#include <locale.h>
#include <pthread.h>
#include <string.h>
#include <wctype.h>

#define MIME_DECODE_CHUNK 256
#define MIME_CHARSET_NAME_MAX 40

typedef int (*mime_decode_emit_fn)(void *arg, const unsigned char *p, size_t n);

enum mime_qp_state {
	MIME_QP_TEXT,
	MIME_QP_EQ,   /* "=" */
	MIME_QP_HEX,  /* "=" and one hex digit */
	MIME_QP_WSP,  /* "=" and blanks: a soft line break if a line end follows */
	MIME_QP_CR,   /* "=" [blanks] CR */
};

/* Output gathered into a small buffer before it is handed on. */
struct mime_decode_out {
	unsigned char b[MIME_DECODE_CHUNK];
	size_t n;
	mime_decode_emit_fn emit;
	void *arg;
	int rc;
};

static void mime_decode_put(struct mime_decode_out *o, const unsigned char *p, size_t n)
{
	while (n > 0 && o->rc == 0) {
		if (o->n == sizeof o->b) {
			o->rc = o->emit(o->arg, o->b, o->n);
			o->n = 0;
		}
		size_t k = sizeof o->b - o->n < n ? sizeof o->b - o->n : n;
		memcpy(o->b + o->n, p, k);
		o->n += k;
		p += k;
		n -= k;
	}
}

static int mime_decode_flush(struct mime_decode_out *o)
{
	if (o->rc == 0 && o->n > 0)
		o->rc = o->emit(o->arg, o->b, o->n);
	o->n = 0;
	return o->rc;
}

static int mime_decode_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10; /* not canonical, but seen */
	return -1;
}

enum mime_cte mime_decode_cte_of(struct mime_str encoding)
{
	if (encoding.p && mime_field_ieq(encoding.p, encoding.n, "quoted-printable"))
		return MIME_CTE_QP;
	if (encoding.p && mime_field_ieq(encoding.p, encoding.n, "base64"))
		return MIME_CTE_BASE64;
	return MIME_CTE_IDENTITY;
}

void mime_decode_cte_init(struct mime_cte_dec *d, enum mime_cte cte)
{
	memset(d, 0, sizeof *d);
	d->cte = cte;
	d->state = MIME_QP_TEXT;
}

/* The held "=..." was not an escape after all: it is text. */
static void mime_decode_qp_release(struct mime_cte_dec *d, struct mime_decode_out *o)
{
	mime_decode_put(o, d->hold, d->nhold);
	d->nhold = 0;
	d->state = MIME_QP_TEXT;
}

static void mime_decode_qp(struct mime_cte_dec *d, const unsigned char *p, size_t n, struct mime_decode_out *o)
{
	size_t i = 0, run = 0;
	while (i < n) {
		unsigned char c = p[i];
		switch (d->state) {
		case MIME_QP_TEXT:
			if (c == '=') {
				mime_decode_put(o, p + run, i - run);
				d->hold[0] = '=';
				d->nhold = 1;
				d->state = MIME_QP_EQ;
				run = i + 1;
			}
			i++;
			continue;
		case MIME_QP_EQ:
			if (mime_decode_hex(c) >= 0) {
				d->hold[d->nhold++] = c;
				d->state = MIME_QP_HEX;
			} else if (c == '\n') {
				d->nhold = 0; /* soft line break */
				d->state = MIME_QP_TEXT;
			} else if (c == '\r' || mime_field_is_wsp(c)) {
				d->hold[d->nhold++] = c;
				d->state = c == '\r' ? MIME_QP_CR : MIME_QP_WSP;
			} else {
				mime_decode_qp_release(d, o);
				run = i;
				continue; /* the octet is looked at again as text */
			}
			break;
		case MIME_QP_HEX:
			if (mime_decode_hex(c) >= 0) {
				unsigned char v = (unsigned char)(mime_decode_hex(d->hold[1]) * 16 + mime_decode_hex(c));
				mime_decode_put(o, &v, 1);
				d->nhold = 0;
				d->state = MIME_QP_TEXT;
			} else {
				mime_decode_qp_release(d, o);
				run = i;
				continue;
			}
			break;
		case MIME_QP_WSP:
			if (c == '\n') {
				d->nhold = 0;
				d->state = MIME_QP_TEXT;
			} else if ((c == '\r' || mime_field_is_wsp(c)) && d->nhold < sizeof d->hold) {
				d->hold[d->nhold++] = c;
				if (c == '\r')
					d->state = MIME_QP_CR;
			} else {
				mime_decode_qp_release(d, o);
				run = i;
				continue;
			}
			break;
		default: /* MIME_QP_CR */
			if (c == '\n') {
				d->nhold = 0;
				d->state = MIME_QP_TEXT;
			} else {
				mime_decode_qp_release(d, o);
				run = i;
				continue;
			}
			break;
		}
		i++;
		run = i;
	}
	if (d->state == MIME_QP_TEXT)
		mime_decode_put(o, p + run, n - run);
}

static void mime_decode_b64_flush(struct mime_cte_dec *d, struct mime_decode_out *o)
{
	unsigned char v[2];
	if (d->nacc >= 2) {
		/* a short quantum: 2 sextets give 1 octet, 3 give 2 */
		uint32_t acc = d->acc << (6 * (4 - d->nacc));
		v[0] = (unsigned char)(acc >> 16);
		v[1] = (unsigned char)(acc >> 8);
		mime_decode_put(o, v, d->nacc - 1);
	}
	d->acc = 0;
	d->nacc = 0;
}

static void mime_decode_base64(struct mime_cte_dec *d, const unsigned char *p, size_t n, struct mime_decode_out *o)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '=') {
			mime_decode_b64_flush(d, o);
			continue;
		}
		int v = base64_digit(p[i], '/');
		if (v < 0)
			continue;
		d->acc = (d->acc << 6) | (uint32_t)v;
		if (++d->nacc == 4) {
			unsigned char t[3] = {(unsigned char)(d->acc >> 16), (unsigned char)(d->acc >> 8),
			                      (unsigned char)d->acc};
			mime_decode_put(o, t, 3);
			d->acc = 0;
			d->nacc = 0;
		}
	}
}

int mime_decode_cte(struct mime_cte_dec *d, const char *p, size_t n, mime_decode_emit_fn emit, void *arg)
{
	const unsigned char *u = (const unsigned char *)p;
	if (d->cte == MIME_CTE_IDENTITY)
		return n ? emit(arg, u, n) : 0;
	struct mime_decode_out o = {.emit = emit, .arg = arg};
	if (d->cte == MIME_CTE_QP)
		mime_decode_qp(d, u, n, &o);
	else
		mime_decode_base64(d, u, n, &o);
	return mime_decode_flush(&o);
}

int mime_decode_cte_end(struct mime_cte_dec *d, mime_decode_emit_fn emit, void *arg)
{
	struct mime_decode_out o = {.emit = emit, .arg = arg};
	if (d->cte == MIME_CTE_QP && d->state != MIME_QP_TEXT)
		mime_decode_qp_release(d, &o);
	else if (d->cte == MIME_CTE_BASE64)
		mime_decode_b64_flush(d, &o);
	return mime_decode_flush(&o);
}

/* ---- charsets ---- */

/* Charsets that need no conversion: UTF-8 and its subset (8-bit octets
 * in "us-ascii" text are nearly always UTF-8 or garbage anyway). */
static bool mime_decode_is_utf8(struct mime_str cs)
{
	static const char *const same[] = {"utf-8", "utf8", "us-ascii", "ascii", "ansi_x3.4-1968", NULL};
	for (size_t i = 0; same[i]; i++)
		if (mime_field_ieq(cs.p, cs.n, same[i]))
			return true;
	return false;
}

void mime_decode_charset_init(struct mime_charset_dec *d, struct mime_str charset)
{
	d->cd = NULL;
	d->nin = 0;
	if (charset.p == NULL || charset.n == 0 || charset.n > MIME_CHARSET_NAME_MAX || mime_decode_is_utf8(charset))
		return;
	/* only plain names reach iconv: no "//" suffixes, no paths */
	char name[MIME_CHARSET_NAME_MAX + 1];
	for (size_t i = 0; i < charset.n; i++) {
		unsigned char c = (unsigned char)charset.p[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		          c == '_' || c == '.' || c == ':' || c == '+';
		if (!ok)
			return;
		name[i] = (char)c;
	}
	name[charset.n] = '\0';
	iconv_t cd = iconv_open("UTF-8", name);
	if (cd != (iconv_t)-1)
		d->cd = cd;
}

static const unsigned char mime_decode_fffd[3] = {0xef, 0xbf, 0xbd};

/* Convert what is in d->in; an incomplete sequence at its end stays. */
static void mime_decode_iconv(struct mime_charset_dec *d, struct mime_decode_out *o)
{
	char *ip = (char *)d->in;
	size_t il = d->nin;
	while (il > 0 && o->rc == 0) {
		char out[MIME_DECODE_CHUNK];
		char *op = out;
		size_t ol = sizeof out;
		size_t r = iconv((iconv_t)d->cd, &ip, &il, &op, &ol);
		int err = errno;
		mime_decode_put(o, (const unsigned char *)out, (size_t)(op - out));
		if (r != (size_t)-1 || err == E2BIG)
			continue;
		if (err == EINVAL)
			break;
		/* EILSEQ: one octet is not of the charset */
		mime_decode_put(o, mime_decode_fffd, sizeof mime_decode_fffd);
		ip++;
		il--;
	}
	memmove(d->in, ip, il);
	d->nin = il;
}

int mime_decode_charset(struct mime_charset_dec *d, const unsigned char *p, size_t n, mime_decode_emit_fn emit,
                        void *arg)
{
	if (d->cd == NULL)
		return n ? emit(arg, p, n) : 0;
	struct mime_decode_out o = {.emit = emit, .arg = arg};
	while (n > 0 && o.rc == 0) {
		size_t k = sizeof d->in - d->nin < n ? sizeof d->in - d->nin : n;
		memcpy(d->in + d->nin, p, k);
		d->nin += k;
		p += k;
		n -= k;
		mime_decode_iconv(d, &o);
		if (d->nin == sizeof d->in) {
			/* no charset has sequences this long: drop one octet */
			mime_decode_put(&o, mime_decode_fffd, sizeof mime_decode_fffd);
			memmove(d->in, d->in + 1, --d->nin);
		}
	}
	return mime_decode_flush(&o);
}

int mime_decode_charset_end(struct mime_charset_dec *d, mime_decode_emit_fn emit, void *arg)
{
	if (d->cd == NULL)
		return 0;
	struct mime_decode_out o = {.emit = emit, .arg = arg};
	if (d->nin > 0)
		mime_decode_put(&o, mime_decode_fffd, sizeof mime_decode_fffd);
	d->nin = 0;
	/* return a stateful charset (ISO-2022-JP) to its initial state */
	char out[MIME_DECODE_CHUNK];
	char *op = out;
	size_t ol = sizeof out;
	iconv((iconv_t)d->cd, NULL, NULL, &op, &ol);
	mime_decode_put(&o, (const unsigned char *)out, (size_t)(op - out));
	return mime_decode_flush(&o);
}

void mime_decode_charset_free(struct mime_charset_dec *d)
{
	if (d->cd)
		iconv_close((iconv_t)d->cd);
	d->cd = NULL;
	d->nin = 0;
}

/* ---- UTF-8 and folding ---- */

void mime_decode_utf8_init(struct mime_utf8_dec *d)
{
	memset(d, 0, sizeof *d);
}

static int mime_decode_utf8_escape(struct mime_utf8_dec *d, int (*emit)(void *arg, uint32_t cp), void *arg)
{
	int rc = 0;
	for (unsigned i = 0; i < d->nseq && rc == 0; i++)
		rc = emit(arg, 0xDC00u + d->seq[i]);
	d->nseq = 0;
	d->need = 0;
	return rc;
}

int mime_decode_utf8(struct mime_utf8_dec *d, const unsigned char *p, size_t n, int (*emit)(void *arg, uint32_t cp),
                     void *arg)
{
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		unsigned char c = p[i];
		if (d->need > 0) {
			if ((c & 0xC0) == 0x80) {
				d->cp = (d->cp << 6) | (c & 0x3Fu);
				d->seq[d->nseq++] = c;
				if (--d->need == 0) {
					if (d->cp < d->min || d->cp > 0x10FFFF || (d->cp >= 0xD800 && d->cp <= 0xDFFF))
						rc = mime_decode_utf8_escape(d, emit, arg);
					else
						rc = emit(arg, d->cp);
					d->nseq = 0;
				}
				continue;
			}
			rc = mime_decode_utf8_escape(d, emit, arg);
			if (rc < 0)
				break;
		}
		if (c < 0x80) {
			rc = emit(arg, c);
			continue;
		}
		d->seq[0] = c;
		d->nseq = 1;
		if (c >= 0xC2 && c <= 0xDF) {
			d->need = 1;
			d->cp = c & 0x1Fu;
			d->min = 0x80;
		} else if (c >= 0xE0 && c <= 0xEF) {
			d->need = 2;
			d->cp = c & 0x0Fu;
			d->min = 0x800;
		} else if (c >= 0xF0 && c <= 0xF4) {
			d->need = 3;
			d->cp = c & 0x07u;
			d->min = 0x10000;
		} else {
			rc = mime_decode_utf8_escape(d, emit, arg);
		}
	}
	return rc;
}

int mime_decode_utf8_end(struct mime_utf8_dec *d, int (*emit)(void *arg, uint32_t cp), void *arg)
{
	return d->need > 0 ? mime_decode_utf8_escape(d, emit, arg) : 0;
}

static pthread_once_t mime_decode_once = PTHREAD_ONCE_INIT;
static locale_t mime_decode_locale; /* set once, read only afterwards */

static void mime_decode_locale_init(void)
{
	mime_decode_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

uint32_t mime_decode_fold(uint32_t cp)
{
	if (cp < 0x80)
		return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
	if (cp >= 0xD800 && cp <= 0xDFFF)
		return cp; /* raw octets stand for themselves */
	pthread_once(&mime_decode_once, mime_decode_locale_init);
	if (mime_decode_locale == (locale_t)0)
		return cp;
	/* upper then lower: "ς" and "σ" both fold to "σ", "K" (Kelvin) to "k" */
	return (uint32_t)towlower_l(towupper_l((wint_t)cp, mime_decode_locale), mime_decode_locale);
}

/* ---- RFC 2047 encoded words ---- */

static int mime_decode_buf_emit(void *arg, const unsigned char *p, size_t n)
{
	return buf_append(arg, p, n);
}

/* One encoded word's text, decoded and converted into out. */
static int mime_decode_word(struct mime_str charset, char enc, const char *s, size_t n, struct buf *out)
{
	struct buf raw;
	buf_init(&raw, 0);
	int rc = 0;
	if (enc == 'b' || enc == 'B') {
		struct mime_cte_dec d;
		mime_decode_cte_init(&d, MIME_CTE_BASE64);
		rc = mime_decode_cte(&d, s, n, mime_decode_buf_emit, &raw);
		if (rc == 0)
			rc = mime_decode_cte_end(&d, mime_decode_buf_emit, &raw);
	} else {
		/* RFC 2047 4.2: "_" is a space, "=XX" an octet */
		for (size_t i = 0; i < n && rc == 0; i++) {
			if (s[i] == '_') {
				rc = buf_putc(&raw, ' ');
			} else if (s[i] == '=' && i + 2 < n && mime_decode_hex((unsigned char)s[i + 1]) >= 0 &&
			           mime_decode_hex((unsigned char)s[i + 2]) >= 0) {
				rc = buf_putc(&raw, (char)(mime_decode_hex((unsigned char)s[i + 1]) * 16 +
				                           mime_decode_hex((unsigned char)s[i + 2])));
				i += 2;
			} else {
				rc = buf_putc(&raw, s[i]);
			}
		}
	}
	/* RFC 2231 5: charset*language */
	const char *star = memchr(charset.p, '*', charset.n);
	if (star)
		charset.n = (size_t)(star - charset.p);
	struct mime_charset_dec cd;
	mime_decode_charset_init(&cd, charset);
	if (rc == 0 && raw.len > 0)
		rc = mime_decode_charset(&cd, (const unsigned char *)raw.data, raw.len, mime_decode_buf_emit, out);
	if (rc == 0)
		rc = mime_decode_charset_end(&cd, mime_decode_buf_emit, out);
	mime_decode_charset_free(&cd);
	buf_free(&raw);
	return rc;
}

/* Is there an encoded word "=?charset?X?text?=" at s[i]? Its parts. */
static bool mime_decode_is_word(const char *s, size_t n, size_t i, struct mime_str *cs, char *enc,
                                struct mime_str *text, size_t *end)
{
	if (i + 1 >= n || s[i] != '=' || s[i + 1] != '?')
		return false;
	size_t k = i + 2;
	while (k < n && s[k] != '?' && !mime_field_is_wsp((unsigned char)s[k]))
		k++;
	if (k == i + 2 || k + 2 >= n || s[k] != '?' || s[k + 2] != '?')
		return false;
	*cs = (struct mime_str){s + i + 2, k - i - 2};
	*enc = s[k + 1];
	if (*enc != 'b' && *enc != 'B' && *enc != 'q' && *enc != 'Q')
		return false;
	size_t t = k + 3, e = t;
	while (e + 1 < n && !(s[e] == '?' && s[e + 1] == '=')) {
		if (mime_field_is_wsp((unsigned char)s[e]))
			return false;
		e++;
	}
	if (e + 1 >= n)
		return false;
	*text = (struct mime_str){s + t, e - t};
	*end = e + 2;
	return true;
}

int mime_decode_header(const char *s, size_t n, struct buf *out)
{
	size_t i = 0, start = 0;
	bool after_word = false;
	while (i < n) {
		struct mime_str cs, text;
		char enc;
		size_t end;
		if (!mime_decode_is_word(s, n, i, &cs, &enc, &text, &end)) {
			i++;
			continue;
		}
		bool blank = true;
		for (size_t k = start; k < i && blank; k++)
			blank = s[k] == ' ' || s[k] == '\t' || s[k] == '\r' || s[k] == '\n';
		/* RFC 2047 6.2: blanks between two encoded words are not text */
		if (!(after_word && blank) && buf_append(out, s + start, i - start) < 0)
			return -1;
		if (mime_decode_word(cs, enc, text.p, text.n, out) < 0)
			return -1;
		after_word = true;
		i = start = end;
	}
	return buf_append(out, s + start, n - start);
}
