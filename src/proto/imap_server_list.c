/*
 * imap_server_list — LIST and LSUB (RFC 9051 6.3.9, RFC 3501 6.3.9),
 * with LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819), SPECIAL-USE
 * (RFC 6154) and CHILDREN (RFC 3348).
 *
 * The store lists folders; which of them a LIST answers, and with what
 * attributes, is decided here: patterns are matched in UTF-8 (each
 * name's modified UTF-7 decoded), INBOX case-insensitively; a folder
 * whose parent does not exist makes the parent appear as \Noselect, as
 * Maildir++ trees do in Dovecot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/imap_server_int.h"
#include "proto/imap_utf7.h"

/* ---------------------------------------------------------- LIST, LSUB */

enum {
	IMAP_LSEL_SUBSCRIBED = 1 << 0,
	IMAP_LSEL_REMOTE = 1 << 1,
	IMAP_LSEL_RECURSIVE = 1 << 2,
	IMAP_LSEL_SPECIAL = 1 << 3,
	IMAP_LRET_SUBSCRIBED = 1 << 0,
	IMAP_LRET_CHILDREN = 1 << 1,
	IMAP_LRET_SPECIAL = 1 << 2,
	IMAP_LRET_STATUS = 1 << 3,
};

/* A pattern or reference from the client, in UTF-8. */
static char *imap_list_text(struct imap_server *s, const struct imap_arg *a)
{
	char raw[IMAP_NAME_MAX * 4 + 1];
	if (!imap_arg_astring(a, raw, sizeof raw))
		return NULL;
	size_t n = strlen(raw);
	bool eight = false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)raw[i] >= 0x80)
			eight = true;
	char *out = malloc(sizeof raw);
	if (out == NULL)
		return NULL;
	if (s->utf8 || eight || !imap_utf7_is_valid(raw, n) || imap_utf7_to_utf8(raw, n, out, sizeof raw) < 0)
		memcpy(out, raw, n + 1);
	return out;
}

bool imap_parse_list(struct imap_server *s, struct imap_cmd *c)
{
	const struct imap_arg *a = c->args.top;
	size_t n = c->args.ntop, i = 0;
	c->lsub = strcmp(c->def->name, "LSUB") == 0;
	if (!c->lsub && n > 0 && a[0].type == IMAP_ARG_LIST) {
		c->extended = true;
		for (size_t k = 0; k < a[0].nlist; k++) {
			const struct imap_arg *o = &a[0].list[k];
			if (imap_arg_is_atom(o, "SUBSCRIBED"))
				c->sel_opts |= IMAP_LSEL_SUBSCRIBED;
			else if (imap_arg_is_atom(o, "REMOTE"))
				c->sel_opts |= IMAP_LSEL_REMOTE;
			else if (imap_arg_is_atom(o, "RECURSIVEMATCH"))
				c->sel_opts |= IMAP_LSEL_RECURSIVE;
			else if (imap_arg_is_atom(o, "SPECIAL-USE"))
				c->sel_opts |= IMAP_LSEL_SPECIAL;
			else {
				imap_bad(s, "Unknown LIST selection option");
				return false;
			}
		}
		/* RFC 5258 3.1: RECURSIVEMATCH alone means nothing. */
		if ((c->sel_opts & IMAP_LSEL_RECURSIVE) && !(c->sel_opts & (IMAP_LSEL_SUBSCRIBED | IMAP_LSEL_SPECIAL))) {
			imap_bad(s, "RECURSIVEMATCH needs another selection option");
			return false;
		}
		i = 1;
	}
	if (n < i + 2) {
		imap_bad(s, "Invalid arguments");
		return false;
	}
	char *ref = imap_list_text(s, &a[i]);
	if (ref == NULL) {
		imap_bad(s, "Invalid reference");
		return false;
	}
	snprintf(c->ref, sizeof c->ref, "%s", ref);
	free(ref);
	const struct imap_arg *pat = &a[i + 1];
	size_t npat = pat->type == IMAP_ARG_LIST ? pat->nlist : 1;
	if (pat->type == IMAP_ARG_LIST) {
		if (c->lsub || npat == 0) {
			imap_bad(s, "Invalid mailbox patterns");
			return false;
		}
		c->extended = true;
	}
	c->patterns = calloc(npat, sizeof *c->patterns);
	if (c->patterns == NULL) {
		imap_bad(s, "Out of memory");
		return false;
	}
	for (size_t k = 0; k < npat; k++) {
		c->patterns[k] = imap_list_text(s, pat->type == IMAP_ARG_LIST ? &pat->list[k] : pat);
		if (c->patterns[k] == NULL) {
			imap_bad(s, "Invalid mailbox pattern");
			return false;
		}
		c->npatterns++;
	}
	i += 2;
	if (i < n) {
		if (c->lsub || i + 2 != n || !imap_arg_is_atom(&a[i], "RETURN") || a[i + 1].type != IMAP_ARG_LIST) {
			imap_bad(s, "Invalid arguments");
			return false;
		}
		c->extended = true;
		const struct imap_arg *r = &a[i + 1];
		for (size_t k = 0; k < r->nlist; k++) {
			const struct imap_arg *o = &r->list[k];
			if (imap_arg_is_atom(o, "SUBSCRIBED"))
				c->ret_opts |= IMAP_LRET_SUBSCRIBED;
			else if (imap_arg_is_atom(o, "CHILDREN"))
				c->ret_opts |= IMAP_LRET_CHILDREN;
			else if (imap_arg_is_atom(o, "SPECIAL-USE"))
				c->ret_opts |= IMAP_LRET_SPECIAL;
			else if (imap_arg_is_atom(o, "STATUS") && k + 1 < r->nlist &&
			         imap_status_list(&r->list[k + 1], &c->items)) {
				c->ret_opts |= IMAP_LRET_STATUS;
				k++;
			} else {
				imap_bad(s, "Unknown LIST return option");
				return false;
			}
		}
	}
	return true;
}

/* Does name match pattern (RFC 9051 6.3.9: "*" anything, "%" anything
 * but the separator)? ci: ignore ASCII case (for INBOX). Dynamic
 * programming over one row, so no pattern makes it exponential. */
static bool imap_match(const char *pat, const char *name, bool ci)
{
	size_t m = strlen(name);
	bool row_small[256];
	bool *row = m + 1 <= sizeof row_small / sizeof *row_small ? row_small : malloc((m + 1) * sizeof *row);
	if (row == NULL)
		return false;
	row[0] = true;
	for (size_t j = 1; j <= m; j++)
		row[j] = false;
	for (const char *p = pat; *p; p++) {
		bool diag = row[0];
		row[0] = row[0] && (*p == '*' || *p == '%');
		for (size_t j = 1; j <= m; j++) {
			bool up = row[j];
			char a = *p, b = name[j - 1];
			if (a == '*')
				row[j] = up || row[j - 1];
			else if (a == '%')
				row[j] = up || (row[j - 1] && b != '.');
			else {
				if (ci && a >= 'a' && a <= 'z')
					a = (char)(a - 32);
				if (ci && b >= 'a' && b <= 'z')
					b = (char)(b - 32);
				row[j] = diag && a == b;
			}
			diag = up;
		}
	}
	bool r = row[m];
	if (row != row_small)
		free(row);
	return r;
}

/* Does the (UTF-8) name match any of the command's patterns? */
static bool imap_list_matches(const struct imap_cmd *c, const char *name)
{
	for (size_t k = 0; k < c->npatterns; k++) {
		char full[IMAP_NAME_MAX * 8 + 2];
		snprintf(full, sizeof full, "%s%s", c->ref, c->patterns[k]);
		bool inbox = strncasecmp(name, "INBOX", 5) == 0 && (name[5] == '\0' || name[5] == '.');
		if (imap_match(full, name, false) || (inbox && strncasecmp(full, "INBOX", 5) == 0 &&
		                                      imap_match(full + 5, name + 5, false)) ||
		    (inbox && name[5] == '\0' && imap_match(full, name, true)))
			return true;
	}
	return false;
}

/* One LIST candidate: a folder or a parent implied by one. */
struct imap_list_node {
	char name[IMAP_NAME_MAX + 1];   /* store form */
	char utf8[IMAP_NAME_MAX * 4 + 1];
	unsigned attrs;                 /* IMAP_FOLDER_* */
	bool children;                  /* some existing folder below it */
	bool sub_children;              /* some subscribed name below it */
};

static int imap_list_cmp(const void *a, const void *b)
{
	const struct imap_list_node *x = a, *y = b;
	bool xi = strcmp(x->name, "INBOX") == 0, yi = strcmp(y->name, "INBOX") == 0;
	if (xi != yi)
		return xi ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Every folder and every parent they imply, sorted, with children known. */
static struct imap_list_node *imap_list_nodes(const struct imap_folder *f, size_t n, size_t *count)
{
	size_t cap = n * 2 + 1, k = 0;
	struct imap_list_node *v = calloc(cap, sizeof *v);
	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		/* the folder itself, then each parent */
		char name[IMAP_NAME_MAX + 1];
		snprintf(name, sizeof name, "%s", f[i].name);
		unsigned attrs = f[i].attrs;
		for (;;) {
			size_t j = 0;
			while (j < k && strcmp(v[j].name, name) != 0)
				j++;
			if (j == k) {
				if (k == cap) {
					size_t ncap = cap * 2;
					struct imap_list_node *nv = realloc(v, ncap * sizeof *v);
					if (nv == NULL) {
						free(v);
						return NULL;
					}
					memset(nv + cap, 0, (ncap - cap) * sizeof *nv);
					v = nv;
					cap = ncap;
				}
				snprintf(v[k].name, sizeof v[k].name, "%s", name);
				if (!imap_name_to_utf8(name, v[k].utf8, sizeof v[k].utf8))
					snprintf(v[k].utf8, sizeof v[k].utf8, "%s", name);
				k++;
			}
			v[j].attrs |= attrs;
			char *dot = strrchr(name, '.');
			if (dot == NULL)
				break;
			*dot = '\0';
			/* the parent learns of a child */
			size_t p = 0;
			while (p < k && strcmp(v[p].name, name) != 0)
				p++;
			if (p == k) {
				attrs = 0;
				continue; /* made on the next turn */
			}
			if (f[i].attrs & IMAP_FOLDER_EXISTS)
				v[p].children = true;
			if (f[i].attrs & IMAP_FOLDER_SUBSCRIBED)
				v[p].sub_children = true;
			attrs = 0;
		}
	}
	/* children of parents made after their child was seen */
	for (size_t i = 0; i < k; i++) {
		size_t len = strlen(v[i].name);
		for (size_t j = 0; j < k; j++) {
			if (j == i || strncmp(v[j].name, v[i].name, len) != 0 || v[j].name[len] != '.')
				continue;
			if (v[j].attrs & IMAP_FOLDER_EXISTS)
				v[i].children = true;
			if (v[j].attrs & IMAP_FOLDER_SUBSCRIBED)
				v[i].sub_children = true;
		}
	}
	qsort(v, k, sizeof *v, imap_list_cmp);
	*count = k;
	return v;
}

/* RECURSIVEMATCH (RFC 5258 3.1, 3.5): has nd a subscribed descendant
 * that the patterns do not list by itself? Only such a one makes the
 * parent a result with CHILDINFO; one that is listed speaks for itself
 * (Dovecot answers so: LIST (SUBSCRIBED RECURSIVEMATCH) "" (a a.b) with
 * a.b subscribed gives a.b alone). */
static bool imap_list_hidden_sub_child(const struct imap_cmd *c, const struct imap_list_node *v, size_t k,
                                       const struct imap_list_node *nd)
{
	size_t len = strlen(nd->name);
	for (size_t j = 0; j < k; j++)
		if ((v[j].attrs & IMAP_FOLDER_SUBSCRIBED) && strncmp(v[j].name, nd->name, len) == 0 &&
		    v[j].name[len] == '.' && !imap_list_matches(c, v[j].utf8))
			return true;
	return false;
}

static void imap_list_line(struct imap_server *s, struct imap_cmd *c, const struct imap_list_node *nd, bool childinfo)
{
	static const struct {
		unsigned bit;
		const char *name;
	} special[] = {
		{IMAP_FOLDER_SENT, " \\Sent"}, {IMAP_FOLDER_DRAFTS, " \\Drafts"}, {IMAP_FOLDER_TRASH, " \\Trash"},
		{IMAP_FOLDER_JUNK, " \\Junk"}, {IMAP_FOLDER_ARCHIVE, " \\Archive"},
	};
	bool exists = nd->attrs & IMAP_FOLDER_EXISTS;
	struct buf a;
	buf_init(&a, 512);
	if (!exists)
		buf_puts(&a, c->extended && !nd->children && !nd->sub_children ? " \\NonExistent" : " \\Noselect");
	if (!c->lsub) {
		buf_puts(&a, nd->children ? " \\HasChildren" : " \\HasNoChildren");
		if ((nd->attrs & IMAP_FOLDER_SUBSCRIBED) &&
		    ((c->ret_opts & IMAP_LRET_SUBSCRIBED) || (c->sel_opts & IMAP_LSEL_SUBSCRIBED)))
			buf_puts(&a, " \\Subscribed");
		for (size_t i = 0; i < sizeof special / sizeof *special; i++)
			if (nd->attrs & special[i].bit)
				buf_puts(&a, special[i].name);
	}
	buf_printf(&s->out, "* %s (%s) \".\" ", c->lsub ? "LSUB" : "LIST", a.data ? a.data + 1 : "");
	buf_free(&a);
	imap_put_mailbox(s, &s->out, nd->name);
	if (childinfo)
		buf_puts(&s->out, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	buf_puts(&s->out, "\r\n");
	if ((c->ret_opts & IMAP_LRET_STATUS) && exists) {
		struct imap_status st;
		memset(&st, 0, sizeof st);
		if (s->ops->status(s->ctx, nd->name, c->items, &st) == IMAP_STORE_OK)
			imap_put_status(s, nd->name, c->items, &st);
	}
}

enum imap_exec_result imap_exec_list(struct imap_server *s, struct imap_cmd *c)
{
	/* RFC 9051 6.3.9: an empty pattern asks for the separator. */
	if (c->npatterns == 1 && c->patterns[0][0] == '\0' && !c->lsub) {
		imap_untagged(s, "LIST (\\Noselect) \".\" \"\"");
		imap_done(c, IMAP_STORE_OK, "List completed");
		return IMAP_EXEC_DONE;
	}
	if (c->folders == NULL) {
		enum imap_store_result r = s->ops->list(s->ctx, &c->folders, &c->nfolders);
		if (r != IMAP_STORE_OK) {
			imap_done(c, r, "");
			return IMAP_EXEC_DONE;
		}
	}
	size_t k = 0;
	struct imap_list_node *v = imap_list_nodes(c->folders, c->nfolders, &k);
	if (v == NULL) {
		imap_done(c, IMAP_STORE_ERROR, "");
		return IMAP_EXEC_DONE;
	}
	bool subscribed_only = c->lsub || (c->sel_opts & IMAP_LSEL_SUBSCRIBED);
	bool any_pct = false;
	for (size_t p = 0; p < c->npatterns; p++)
		if (strchr(c->patterns[p], '%'))
			any_pct = true;
	for (size_t i = 0; i < k; i++) {
		struct imap_list_node *nd = &v[i];
		if (!imap_list_matches(c, nd->utf8))
			continue;
		bool childinfo = false;
		if (subscribed_only && !(nd->attrs & IMAP_FOLDER_SUBSCRIBED)) {
			/* RFC 5258 3.5 (RECURSIVEMATCH), RFC 3501 6.3.9 (LSUB
			 * with "%"): a parent of subscribed names is listed. */
			if (!nd->sub_children)
				continue;
			if (c->lsub && !any_pct)
				continue;
			if (!c->lsub && !(c->sel_opts & IMAP_LSEL_RECURSIVE))
				continue;
			if (!c->lsub && !imap_list_hidden_sub_child(c, v, k, nd))
				continue;
			childinfo = !c->lsub;
			if (c->lsub) {
				struct imap_list_node tmp = *nd;
				tmp.attrs &= ~IMAP_FOLDER_EXISTS;
				imap_list_line(s, c, &tmp, false);
				continue;
			}
		}
		if ((c->sel_opts & IMAP_LSEL_SPECIAL) && !(nd->attrs & IMAP_FOLDER_SPECIAL) &&
		    !((c->sel_opts & IMAP_LSEL_RECURSIVE) && nd->children))
			continue;
		if (!subscribed_only && !(nd->attrs & IMAP_FOLDER_EXISTS) && !nd->children)
			continue; /* a subscription to nothing: only LSUB and (SUBSCRIBED) show it */
		if (childinfo && (nd->attrs & IMAP_FOLDER_SUBSCRIBED))
			childinfo = false;
		imap_list_line(s, c, nd, childinfo);
	}
	free(v);
	imap_done(c, IMAP_STORE_OK, c->lsub ? "Lsub completed" : "List completed");
	return IMAP_EXEC_DONE;
}
