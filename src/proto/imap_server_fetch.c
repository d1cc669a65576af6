/*
 * imap_server_fetch — FETCH and UID FETCH (RFC 9051 6.4.5 and 7.5.2):
 * the attributes parsed, then the answer written message by message, a
 * part at a time: FETCH 1:* of 100,000 messages, or BODY[] of a 30 MB
 * one, stops whenever `out` reaches IMAP_SERVER_OUT_PAUSE and goes on at
 * the next exec, so the answer never sits whole in memory. With
 * CONDSTORE's CHANGEDSINCE and MODSEQ (RFC 7162 3.1.4-5) and QRESYNC's
 * VANISHED modifier (3.2.6).
 *
 * Bodies are stored with LF line ends and sent with CR LF (RFC 9051
 * 4.3): every LF not preceded by CR becomes CR LF, and a NUL becomes
 * 0x80 (a literal may not hold NUL; Dovecot does the same), so each
 * literal's length is the section's wire size that the store measured,
 * exact to the octet. A partial fetch <o.n> counts octets of that wire
 * form.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/imap_date.h"
#include "proto/imap_server_int.h"

#define IMAP_FETCH_READ (32 * 1024)        /* octets read from a message at a time */
#define IMAP_HEADER_READ_MAX (1024 * 1024) /* of a header filtered for HEADER.FIELDS */

void imap_fetch_free(struct imap_cmd *c)
{
	for (size_t i = 0; i < c->natts; i++)
		for (size_t k = 0; k < c->atts[i].nfields; k++)
			free(c->atts[i].field_names[k]);
	free(c->atts);
	c->atts = NULL;
	c->natts = 0;
}

/* --------------------------------------------------------------- parse */

/* The header-list of HEADER.FIELDS: "(" astring *(SP astring) ")" inside
 * the brackets of an atom. p points after "HEADER.FIELDS[.NOT] ". */
static const char *imap_parse_fields(const char *p, const char *end, struct imap_fetch_att *fa)
{
	if (p >= end || *p != '(')
		return NULL;
	p++;
	for (;;) {
		if (p >= end)
			return NULL;
		if (*p == ')')
			return fa->nfields ? p + 1 : NULL;
		if (fa->nfields > 0) {
			if (*p != ' ')
				return NULL;
			p++;
		}
		char name[128];
		size_t n = 0;
		if (p < end && *p == '"') {
			p++;
			while (p < end && *p != '"') {
				if (*p == '\\' && p + 1 < end)
					p++;
				if (n + 1 >= sizeof name)
					return NULL;
				name[n++] = *p++;
			}
			if (p >= end)
				return NULL;
			p++;
		} else {
			while (p < end && *p != ' ' && *p != ')') {
				unsigned char ch = (unsigned char)*p;
				if (ch <= 0x20 || ch >= 0x7f || ch == ':' || n + 1 >= sizeof name)
					return NULL;
				name[n++] = *p++;
			}
		}
		if (n == 0 || fa->nfields >= IMAP_FIELDS_MAX)
			return NULL;
		for (size_t i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)name[i];
			if (ch <= 0x20 || ch >= 0x7f || ch == ':')
				return NULL; /* RFC 5322 2.2: field names are printable, no colon */
			if (ch >= 'a' && ch <= 'z')
				name[i] = (char)(ch - 32);
		}
		name[n] = '\0';
		fa->field_names[fa->nfields] = strdup(name);
		if (fa->field_names[fa->nfields] == NULL)
			return NULL;
		fa->nfields++;
	}
}

/* "[section]<partial>" at p (after "BODY" or "BODY.PEEK"). */
static bool imap_parse_section(const char *p, const char *end, struct imap_fetch_att *fa)
{
	if (p >= end || *p != '[')
		return false;
	p++;
	const char *spec = p;
	fa->what = MIME_SEC_ALL;
	/* part numbers */
	while (p < end && *p >= '1' && *p <= '9') {
		uint64_t v = 0;
		while (p < end && *p >= '0' && *p <= '9') {
			v = v * 10 + (uint64_t)(*p - '0');
			if (v > UINT32_MAX)
				return false;
			p++;
		}
		if (fa->depth >= IMAP_SECTION_DEPTH_MAX)
			return false;
		fa->path[fa->depth++] = (uint32_t)v;
		if (p < end && *p == '.' && p + 1 < end && p[1] >= '1' && p[1] <= '9') {
			p++;
			continue;
		}
		break;
	}
	if (fa->depth > 0 && p < end && *p == '.')
		p++;
	else if (fa->depth > 0 && p < end && *p != ']')
		return false;
	/* section-text */
	size_t left = (size_t)(end - p);
	if (left >= 18 && strncasecmp(p, "HEADER.FIELDS.NOT ", 18) == 0) {
		fa->what = MIME_SEC_HEADER;
		fa->fields = fa->fields_not = true;
		p = imap_parse_fields(p + 18, end, fa);
	} else if (left >= 14 && strncasecmp(p, "HEADER.FIELDS ", 14) == 0) {
		fa->what = MIME_SEC_HEADER;
		fa->fields = true;
		p = imap_parse_fields(p + 14, end, fa);
	} else if (left >= 6 && strncasecmp(p, "HEADER", 6) == 0) {
		fa->what = MIME_SEC_HEADER;
		p += 6;
	} else if (left >= 4 && strncasecmp(p, "TEXT", 4) == 0) {
		fa->what = MIME_SEC_TEXT;
		p += 4;
	} else if (left >= 4 && strncasecmp(p, "MIME", 4) == 0 && fa->depth > 0) {
		fa->what = MIME_SEC_MIME;
		p += 4;
	} else if (p < end && *p != ']') {
		return false;
	}
	if (p == NULL || p >= end || *p != ']')
		return false;
	/* the section as answered, in upper case */
	size_t n = (size_t)(p - spec);
	if (n >= sizeof fa->spec)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = spec[i];
		fa->spec[i] = (char)(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
	}
	fa->spec[n] = '\0';
	p++;
	if (p < end && *p == '<') {
		p++;
		uint64_t o = 0, l = 0;
		const char *d = p;
		while (p < end && *p >= '0' && *p <= '9' && p - d < 19)
			o = o * 10 + (uint64_t)(*p++ - '0');
		if (p == d || p >= end || *p != '.')
			return false;
		d = ++p;
		while (p < end && *p >= '0' && *p <= '9' && p - d < 19)
			l = l * 10 + (uint64_t)(*p++ - '0');
		if (p == d || l == 0 || p >= end || *p != '>')
			return false; /* RFC 9051 9: the length is nz-number */
		p++;
		fa->partial = true;
		fa->p_off = o;
		fa->p_len = l;
	}
	return p == end;
}

static bool imap_add_att(struct imap_cmd *c, const struct imap_arg *a)
{
	if (a->type != IMAP_ARG_ATOM || c->natts >= IMAP_FETCH_ITEMS_MAX)
		return false;
	struct imap_fetch_att *fa = &c->atts[c->natts];
	memset(fa, 0, sizeof *fa);
	static const struct {
		const char *name;
		enum imap_fetch_kind kind;
	} simple[] = {
		{"UID", IMAP_FA_UID},
		{"FLAGS", IMAP_FA_FLAGS},
		{"INTERNALDATE", IMAP_FA_INTERNALDATE},
		{"RFC822.SIZE", IMAP_FA_SIZE},
		{"ENVELOPE", IMAP_FA_ENVELOPE},
		{"BODY", IMAP_FA_BODY},
		{"BODYSTRUCTURE", IMAP_FA_BODYSTRUCTURE},
		{"MODSEQ", IMAP_FA_MODSEQ},
	};
	for (size_t i = 0; i < sizeof simple / sizeof *simple; i++) {
		if (imap_arg_is_atom(a, simple[i].name)) {
			fa->kind = simple[i].kind;
			if (fa->kind == IMAP_FA_MODSEQ)
				c->want_modseq = true;
			c->natts++;
			return true;
		}
	}
	fa->kind = IMAP_FA_SECTION;
	if (imap_arg_is_atom(a, "RFC822")) {
		fa->label = "RFC822";
		c->set_seen = true;
	} else if (imap_arg_is_atom(a, "RFC822.HEADER")) {
		fa->label = "RFC822.HEADER";
		fa->what = MIME_SEC_HEADER;
		fa->peek = true;
	} else if (imap_arg_is_atom(a, "RFC822.TEXT")) {
		fa->label = "RFC822.TEXT";
		fa->what = MIME_SEC_TEXT;
		c->set_seen = true;
	} else if (a->len > 9 && strncasecmp(a->s, "BODY.PEEK", 9) == 0) {
		fa->peek = true;
		if (!imap_parse_section(a->s + 9, a->s + a->len, fa))
			return false;
	} else if (a->len > 4 && strncasecmp(a->s, "BODY", 4) == 0) {
		if (!imap_parse_section(a->s + 4, a->s + a->len, fa))
			return false;
		c->set_seen = true;
	} else {
		return false;
	}
	c->natts++;
	return true;
}

bool imap_parse_fetch(struct imap_server *s, struct imap_cmd *c)
{
	if (c->args.ntop < 2 || c->args.ntop > 3) {
		imap_bad(s, "Invalid arguments");
		return false;
	}
	c->atts = calloc(IMAP_FETCH_ITEMS_MAX, sizeof *c->atts);
	if (c->atts == NULL) {
		imap_bad(s, "Out of memory");
		return false;
	}
	const struct imap_arg *it = &c->args.top[1];
	bool ok = true;
	if (it->type == IMAP_ARG_LIST) {
		for (size_t i = 0; ok && i < it->nlist; i++)
			ok = imap_add_att(c, &it->list[i]);
	} else if (imap_arg_is_atom(it, "ALL") || imap_arg_is_atom(it, "FAST") || imap_arg_is_atom(it, "FULL")) {
		static const char *const fast[] = {"FLAGS", "INTERNALDATE", "RFC822.SIZE"};
		for (size_t i = 0; i < 3; i++) {
			struct imap_arg a = {.type = IMAP_ARG_ATOM, .s = fast[i], .len = strlen(fast[i])};
			imap_add_att(c, &a);
		}
		if (!imap_arg_is_atom(it, "FAST")) {
			struct imap_arg a = {.type = IMAP_ARG_ATOM, .s = "ENVELOPE", .len = 8};
			imap_add_att(c, &a);
		}
		if (imap_arg_is_atom(it, "FULL")) {
			struct imap_arg a = {.type = IMAP_ARG_ATOM, .s = "BODY", .len = 4};
			imap_add_att(c, &a);
		}
	} else {
		ok = imap_add_att(c, it);
	}
	if (!ok || c->natts == 0) {
		imap_bad(s, "Invalid fetch attribute");
		return false;
	}
	if (c->args.ntop == 3) {
		/* fetch-modifiers: (CHANGEDSINCE n [VANISHED]) */
		const struct imap_arg *m = &c->args.top[2];
		if (m->type != IMAP_ARG_LIST) {
			imap_bad(s, "Invalid fetch modifiers");
			return false;
		}
		for (size_t i = 0; i < m->nlist; i++) {
			if (imap_arg_is_atom(&m->list[i], "CHANGEDSINCE") && i + 1 < m->nlist &&
			    m->list[i + 1].type == IMAP_ARG_ATOM && m->list[i + 1].len <= 19) {
				uint64_t v = 0;
				const struct imap_arg *n = &m->list[++i];
				for (size_t k = 0; k < n->len; k++) {
					if (n->s[k] < '0' || n->s[k] > '9') {
						imap_bad(s, "Invalid CHANGEDSINCE");
						return false;
					}
					v = v * 10 + (uint64_t)(n->s[k] - '0');
				}
				c->changedsince = v ? v : 1;
				c->want_modseq = true;
			} else if (imap_arg_is_atom(&m->list[i], "VANISHED") && c->uid && s->qresync) {
				c->vanished = true;
			} else {
				imap_bad(s, "Invalid fetch modifier");
				return false;
			}
		}
		/* RFC 7162 3.2.6: VANISHED only with CHANGEDSINCE. */
		if (c->vanished && !c->changedsince) {
			imap_bad(s, "VANISHED needs CHANGEDSINCE");
			return false;
		}
	}
	if (c->want_modseq)
		imap_condstore_enable(s); /* RFC 7162 3.1: CONDSTORE-enabling */
	if (c->vanished) {
		const struct imap_arg *a = &c->args.top[0];
		if (a->type != IMAP_ARG_ATOM || !imap_seqset_parse(a->s, a->len, &c->q_known) || c->q_known.saved) {
			imap_bad(s, "Invalid sequence set");
			return false;
		}
	}
	return imap_resolve_set(s, c, &c->args.top[0]);
}

/* --------------------------------------------------------------- write */

/* Convert stored octets to the wire form into out, dropping the first
 * *skip wire octets and writing at most *left. */
static void imap_wire(struct imap_stream *st, const char *p, size_t n, struct buf *out)
{
	char tmp[2 * IMAP_FETCH_READ];
	size_t k = 0;
	for (size_t i = 0; i < n && st->left > 0; i++) {
		char ch = p[i];
		char w[2];
		size_t wn = 1;
		if (ch == '\n' && !st->cr) {
			w[0] = '\r';
			w[1] = '\n';
			wn = 2;
		} else {
			w[0] = ch == '\0' ? (char)0x80 : ch;
		}
		st->cr = ch == '\r';
		for (size_t j = 0; j < wn && st->left > 0; j++) {
			if (st->skip > 0) {
				st->skip--;
				continue;
			}
			tmp[k++] = w[j];
			st->left--;
		}
	}
	buf_append(out, tmp, k);
}

/* Send more of the literal in progress. false: the message could not be
 * read (the session must end: a literal cannot be taken back). */
static bool imap_pump(struct imap_server *s, struct imap_cmd *c)
{
	struct imap_stream *st = &c->stream;
	char rd[IMAP_FETCH_READ];
	while (st->left > 0) {
		if (s->out.len >= IMAP_SERVER_OUT_PAUSE)
			return true;
		if (st->off >= st->end)
			return false;
		size_t want = st->end - st->off < sizeof rd ? (size_t)(st->end - st->off) : sizeof rd;
		long got = s->ops->read(s->ctx, s->box, st->seq, st->off, rd, want);
		if (got <= 0)
			return false;
		st->off += (uint64_t)got;
		imap_wire(st, rd, (size_t)got, &s->out);
	}
	st->active = false;
	return true;
}

static void imap_sep(struct imap_server *s, struct imap_cmd *c)
{
	if (c->sep)
		buf_putc(&s->out, ' ');
	c->sep = true;
}

static void imap_att_label(struct imap_server *s, const struct imap_fetch_att *fa)
{
	if (fa->label)
		buf_puts(&s->out, fa->label);
	else
		buf_printf(&s->out, "BODY[%s]", fa->spec);
	if (fa->partial)
		buf_printf(&s->out, "<%llu>", (unsigned long long)fa->p_off);
	buf_putc(&s->out, ' ');
}

/* A body section: its label, then a literal (or NIL). false: the
 * message cannot be read (see imap_pump). */
static bool imap_put_section(struct imap_server *s, struct imap_cmd *c, uint32_t seq, const struct imap_fetch_att *fa)
{
	imap_att_label(s, fa);
	struct mime_range r;
	enum imap_store_result res = s->ops->section(s->ctx, s->box, seq, fa->path, fa->depth, fa->what, &r);
	if (res != IMAP_STORE_OK) {
		if (res != IMAP_STORE_NONEXISTENT)
			c->expunged_seen++;
		buf_puts(&s->out, "NIL");
		return true;
	}
	if (fa->fields) {
		/* The header is read whole (up to a bound) and filtered. */
		size_t n = r.len < IMAP_HEADER_READ_MAX ? (size_t)r.len : IMAP_HEADER_READ_MAX;
		char *hdr = malloc(n ? n : 1);
		long got = hdr ? s->ops->read(s->ctx, s->box, seq, r.off, hdr, n) : -1;
		struct buf f;
		buf_init(&f, IMAP_HEADER_READ_MAX * 2);
		if (got < 0 || mime_header_filter(hdr, (size_t)got, (const char *const *)fa->field_names, fa->nfields,
		                                  fa->fields_not, &f) < 0) {
			free(hdr);
			buf_free(&f);
			c->expunged_seen++;
			buf_puts(&s->out, "NIL");
			return true;
		}
		free(hdr);
		uint64_t off = fa->partial ? fa->p_off : 0;
		uint64_t len = off < f.len ? f.len - off : 0;
		if (fa->partial && len > fa->p_len)
			len = fa->p_len;
		buf_printf(&s->out, "{%llu}\r\n", (unsigned long long)len);
		buf_append(&s->out, f.data ? f.data + off : "", (size_t)len);
		buf_free(&f);
		return true;
	}
	uint64_t off = fa->partial ? fa->p_off : 0;
	uint64_t len = off < r.vsize ? r.vsize - off : 0;
	if (fa->partial && len > fa->p_len)
		len = fa->p_len;
	buf_printf(&s->out, "{%llu}\r\n", (unsigned long long)len);
	struct imap_stream *st = &c->stream;
	memset(st, 0, sizeof *st);
	st->active = len > 0;
	st->seq = seq;
	st->off = r.off;
	st->end = r.off + r.len;
	st->skip = off;
	st->left = len;
	return imap_pump(s, c);
}

/* One attribute of message seq. false: the session must end. */
static bool imap_put_att(struct imap_server *s, struct imap_cmd *c, uint32_t seq, const struct imap_msg *m,
                         const struct imap_fetch_att *fa)
{
	enum imap_store_result r;
	imap_sep(s, c);
	switch (fa->kind) {
	case IMAP_FA_UID:
		buf_printf(&s->out, "UID %u", m->uid);
		break;
	case IMAP_FA_FLAGS:
		buf_puts(&s->out, "FLAGS ");
		imap_put_flags(s, &s->out, m->flags, m->keywords);
		break;
	case IMAP_FA_INTERNALDATE: {
		char d[IMAP_DATETIME_LEN + 1];
		imap_datetime_format(m->internaldate, m->tz, d);
		buf_printf(&s->out, "INTERNALDATE \"%s\"", d);
		break;
	}
	case IMAP_FA_SIZE:
		buf_printf(&s->out, "RFC822.SIZE %llu", (unsigned long long)m->size);
		break;
	case IMAP_FA_MODSEQ:
		buf_printf(&s->out, "MODSEQ (%llu)", (unsigned long long)m->modseq);
		break;
	case IMAP_FA_ENVELOPE:
		buf_puts(&s->out, "ENVELOPE ");
		r = s->ops->envelope(s->ctx, s->box, seq, &s->out);
		if (r != IMAP_STORE_OK) {
			c->expunged_seen++;
			buf_puts(&s->out, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
		}
		break;
	case IMAP_FA_BODY:
	case IMAP_FA_BODYSTRUCTURE:
		buf_puts(&s->out, fa->kind == IMAP_FA_BODY ? "BODY " : "BODYSTRUCTURE ");
		r = s->ops->structure(s->ctx, s->box, seq, fa->kind == IMAP_FA_BODYSTRUCTURE, &s->out);
		if (r != IMAP_STORE_OK) {
			c->expunged_seen++;
			buf_puts(&s->out, "(\"text\" \"plain\" NIL NIL NIL \"7bit\" 0 0)");
		}
		break;
	case IMAP_FA_SECTION:
		return imap_put_section(s, c, seq, fa);
	case IMAP_FA_BINARY_SIZE:
		break;
	}
	return true;
}

/* The next message of the set, or 0 when the set is done. */
static uint32_t imap_next_seq(struct imap_cmd *c)
{
	while (c->range < c->set.n) {
		const struct imap_range *r = &c->set.r[c->range];
		if (c->next < r->lo)
			c->next = r->lo;
		if (c->next <= r->hi)
			return (uint32_t)c->next;
		c->range++;
	}
	return 0;
}

/* RFC 7162 3.2.6: the UIDs of the set that are no longer there. */
static void imap_fetch_vanished(struct imap_server *s, struct imap_cmd *c)
{
	struct imap_msg last;
	if (s->exists_sent == 0)
		return;
	s->ops->msg(s->ctx, s->box, s->exists_sent, &last);
	imap_seqset_resolve(&c->q_known, last.uid);
	struct imap_seqset gone;
	imap_seqset_init(&gone);
	for (size_t i = 0; i < c->q_known.n; i++) {
		uint32_t lo = c->q_known.r[i].lo, hi = c->q_known.r[i].hi, qlo, qhi, next = lo;
		if (hi > last.uid)
			hi = last.uid;
		if (lo > hi)
			continue;
		if (s->ops->uid_range(s->ctx, s->box, lo, hi, &qlo, &qhi)) {
			for (uint32_t q = qlo; q <= qhi; q++) {
				struct imap_msg m;
				s->ops->msg(s->ctx, s->box, q, &m);
				if (m.uid > next)
					imap_seqset_add(&gone, next, m.uid - 1);
				next = m.uid + 1;
			}
		}
		if (next <= hi)
			imap_seqset_add(&gone, next, hi);
	}
	if (gone.n) {
		buf_puts(&s->out, "* VANISHED (EARLIER) ");
		imap_seqset_format(&gone, &s->out);
		buf_puts(&s->out, "\r\n");
	}
	imap_seqset_free(&gone);
}

enum imap_exec_result imap_exec_fetch(struct imap_server *s, struct imap_cmd *c)
{
	if (!c->in_msg && c->next == 0 && c->range == 0) {
		if (c->vanished)
			imap_fetch_vanished(s, c);
		c->next = 1;
	}
	for (;;) {
		if (c->stream.active) {
			if (!imap_pump(s, c)) {
				s->state = IMAP_S_LOGOUT; /* a literal cut short: nothing can follow */
				return IMAP_EXEC_DONE;
			}
			if (c->stream.active)
				return IMAP_EXEC_MORE;
			c->att++;
		}
		if (s->out.len >= IMAP_SERVER_OUT_PAUSE)
			return IMAP_EXEC_MORE;
		uint32_t seq = imap_next_seq(c);
		if (seq == 0)
			break;
		struct imap_msg m;
		s->ops->msg(s->ctx, s->box, seq, &m);
		if (!c->in_msg) {
			if (c->changedsince && m.modseq <= c->changedsince) {
				c->next++;
				continue;
			}
			bool seen_now = false;
			if (c->set_seen && !s->info.readonly && !(m.flags & IMAP_FLAG_SEEN)) {
				struct imap_msg m2;
				if (s->ops->store(s->ctx, s->box, seq, IMAP_STORE_ADD, IMAP_FLAG_SEEN, 0, 0, &m2) ==
				    IMAP_STORE_OK) {
					m = m2;
					seen_now = true;
					imap_note_own_change(s, m.uid, m.modseq);
				}
			}
			buf_printf(&s->out, "* %u FETCH (", seq);
			c->in_msg = true;
			c->sep = false;
			c->att = 0;
			bool has_uid = false, has_flags = false, has_modseq = false;
			for (size_t i = 0; i < c->natts; i++) {
				has_uid |= c->atts[i].kind == IMAP_FA_UID;
				has_flags |= c->atts[i].kind == IMAP_FA_FLAGS;
				has_modseq |= c->atts[i].kind == IMAP_FA_MODSEQ;
			}
			/* UID FETCH answers with the UID (RFC 9051 6.4.9);
			 * a \Seen just set is told (6.4.5); CHANGEDSINCE
			 * answers with MODSEQ (RFC 7162 3.1.4.1). */
			if (c->uid && !has_uid) {
				imap_sep(s, c);
				buf_printf(&s->out, "UID %u", m.uid);
			}
			if (seen_now && !has_flags) {
				imap_sep(s, c);
				buf_puts(&s->out, "FLAGS ");
				imap_put_flags(s, &s->out, m.flags, m.keywords);
			}
			if ((c->changedsince || (seen_now && s->condstore)) && !has_modseq) {
				imap_sep(s, c);
				buf_printf(&s->out, "MODSEQ (%llu)", (unsigned long long)m.modseq);
			}
		}
		while (c->att < c->natts) {
			if (!imap_put_att(s, c, seq, &m, &c->atts[c->att])) {
				s->state = IMAP_S_LOGOUT;
				return IMAP_EXEC_DONE;
			}
			if (c->stream.active)
				return IMAP_EXEC_MORE;
			c->att++;
			if (s->out.len >= IMAP_SERVER_OUT_PAUSE && c->att < c->natts)
				return IMAP_EXEC_MORE;
		}
		buf_puts(&s->out, ")\r\n");
		c->in_msg = false;
		c->next++;
	}
	enum imap_store_result r = c->set_seen && !s->info.readonly ? s->ops->flush(s->ctx, s->box) : IMAP_STORE_OK;
	if (r != IMAP_STORE_OK) {
		c->done_status = "NO";
		snprintf(c->done_text, sizeof c->done_text, "[SERVERBUG] Flags could not be saved");
	} else if (c->expunged_seen) {
		c->done_status = "NO";
		snprintf(c->done_text, sizeof c->done_text, "[EXPUNGEISSUED] Some messages were expunged");
	} else {
		c->done_status = "OK";
		snprintf(c->done_text, sizeof c->done_text, "Fetch completed");
	}
	return IMAP_EXEC_DONE;
}
