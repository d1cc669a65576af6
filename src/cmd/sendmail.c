/*
 * sendmail — `tern sendmail [-C FILE] [-t] [-i] [-oi] [-f SENDER] [-F NAME]
 * [RCPT...]` (CONTRACT.md), also when the binary is called `sendmail`:
 * local injection for cron, PHP and scripts. Reads the message on
 * standard input and leaves it in the drop area (queue/queue_drop.h),
 * durably, whether or not `tern serve` runs; the server picks it up.
 * Runs as the invoking user: it reads the configuration (never the users
 * file) and writes one file; it never touches the queue itself.
 *
 * Input: lines end in LF (CR LF is taken too and stored as LF). Unless
 * -i/-oi, a line holding only "." ends the message (as in sendmail(8);
 * no other dot is removed). A leading mbox "From " line is dropped. The
 * header section is the lines up to the first empty line or the first
 * line that is not a header field; when the message lacks them, From:,
 * Date: and Message-ID: are added at its end (RFC 6409 8; CONTRACT.md).
 * With -t the recipients are taken from To:, Cc: and Bcc: (folded
 * fields, "Name <a@b>", comma lists, groups, comments), added to those on
 * the command line, and Bcc: is removed (RFC 5322 3.6.3).
 *
 * Addresses without a domain are qualified: a recipient with the first
 * `domain` (a bare name such as cron's MAILTO=root means a local
 * mailbox), the sender with `hostname`. The default sender is the login
 * name of the real uid @ hostname.
 *
 * Options scripts pass and that mean nothing here are accepted and
 * ignored: -bm (deliver, the default), -o<anything> (-oem, -oep, -odi,
 * -odb, -om, -o7, -o8, -oQ...; -oi is -i), -v, -m, -n, -U, -G, -I, and,
 * with their argument, -B, -h, -L, -N, -O, -R, -V, -X; -r is the old
 * name of -f. -bp lists the queue (mailq), -q flushes it, -bi
 * (newaliases) succeeds doing nothing (aliases live in the configuration
 * file). -bs, -bd, -bt, -bv and other modes are refused (64).
 *
 * Exit codes (sysexits): 0 the message is on disk; 64 usage (unknown
 * option, no recipient given); 65 data error (no recipient found with
 * -t, an invalid address, too large); 73 the drop area cannot be created
 * or written (permissions); 74 reading standard input failed; 75 a
 * temporary failure (disk full, I/O error); 78 configuration error.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "cmd/cmd.h"
#include "conf/conf.h"
#include "proto/mail_header.h"
#include "proto/smtp_addr.h"
#include "queue/queue_drop.h"

#define SENDMAIL_HEADER_MAX (1024 * 1024) /* header section held in memory */
#define SENDMAIL_NAME_MAX   200           /* -F display name, octets */

struct sendmail_opts {
	const char *conf_path;
	const char *sender;   /* -f, or NULL */
	const char *fullname; /* -F, or NULL */
	bool extract;         /* -t */
	bool ignore_dots;     /* -i, -oi */
	char **rcpt_args;
	int nrcpt_args;
};

/* What the input loop keeps between bytes (see sendmail_feed). */
struct sendmail_in {
	bool ignore_dots;
	bool at_bol;
	char held[2];      /* ".", "\r" or ".\r" not yet decided */
	size_t nheld;
	bool ended;        /* the "." line was seen */
	bool eof;          /* no more input will be read */
	/* Header phase: normalized bytes go to hdr until the section ends. */
	bool in_headers;
	bool first_line;
	struct buf hdr;
	size_t line_start; /* offset in hdr of the line being read */
	size_t hdr_len;    /* octets of header fields in hdr, once ended */
	bool have_sep;     /* the section ended with an empty line */
	struct buf rest;   /* read past the section before the writer exists */
	/* Body phase. */
	struct queue_drop_writer *w;
	uint64_t max;      /* max-message-size */
	int err;           /* first failure: an exit status */
};

struct sendmail_rcpts {
	char **v;
	size_t n;
};

static char sendmail_tmp_path[PATH_MAX]; /* for the signal handler */

static void sendmail_signal_cb(int sig)
{
	(void)sig;
	if (sendmail_tmp_path[0])
		unlink(sendmail_tmp_path);
	_exit(EX_TEMPFAIL);
}

static int sendmail_usage(const char *why)
{
	if (why)
		fprintf(stderr, "tern sendmail: %s\n", why);
	fputs("usage: tern sendmail [-C FILE] [-t] [-i] [-oi] [-f SENDER] [-F NAME] [--] [RCPT...] < message\n",
	      stderr);
	return EX_USAGE;
}

/* ------------------------------------------------------------ addresses */

static int sendmail_rcpts_add(struct sendmail_rcpts *r, const char *addr)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcasecmp(r->v[i], addr) == 0)
			return 0;
	if (r->n >= QUEUE_DROP_RCPTS_MAX)
		return -1;
	char **nv = realloc(r->v, (r->n + 1) * sizeof *nv);
	if (nv == NULL)
		return -1;
	r->v = nv;
	if ((r->v[r->n] = strdup(addr)) == NULL)
		return -1;
	r->n++;
	return 0;
}

static void sendmail_rcpts_free(struct sendmail_rcpts *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i]);
	free(r->v);
}

/*
 * Qualify and check one address (out: at most SMTP_PATH_MAX octets). A
 * name without '@' gets @domain. true when it is an RFC 5321 mailbox.
 */
static bool sendmail_addr_final(const char *in, const char *domain, char *out, size_t outlen)
{
	int n = strchr(in, '@') ? snprintf(out, outlen, "%s", in) : snprintf(out, outlen, "%s@%s", in, domain);
	if (n <= 0 || (size_t)n >= outlen)
		return false;
	char path[SMTP_PATH_MAX + 8];
	n = snprintf(path, sizeof path, "<%s>", out);
	if (n < 0 || (size_t)n >= sizeof path)
		return false;
	struct smtp_addr a;
	size_t used = 0;
	if (smtp_addr_parse(path, (size_t)n, false, true, false, &a, &used) != SMTP_ADDR_OK || used != (size_t)n)
		return false;
	return smtp_addr_format(&a, out, outlen) == 0;
}

/* Step over the quoted string, bracketed literal or comment that starts
 * at v[*i], copying it to copy (comments: copy is NULL). */
static void sendmail_addr_span(const char *v, size_t n, size_t *i, struct buf *copy)
{
	char open = v[*i];
	char close = open == '"' ? '"' : open == '[' ? ']' : ')';
	int depth = 1; /* comments nest (RFC 5322 3.2.2) */
	if (copy)
		buf_putc(copy, open);
	for ((*i)++; *i < n; (*i)++) {
		char c = v[*i];
		if (copy)
			buf_putc(copy, c);
		if (c == '\\' && open != '[' && *i + 1 < n) {
			(*i)++;
			if (copy)
				buf_putc(copy, v[*i]);
		} else if (open == '(' && c == '(') {
			depth++;
		} else if (c == close && --depth == 0) {
			(*i)++;
			return;
		}
	}
}

/* The address of one element of a list: the angle-addr if there was one
 * (minus an obsolete source route), else the text; blanks trimmed. */
static int sendmail_addr_emit(struct buf *elem, struct buf *angle, bool have_angle, const char *domain,
                              struct sendmail_rcpts *out, const char *where)
{
	const char *s = have_angle ? (angle->data ? angle->data : "") : (elem->data ? elem->data : "");
	if (have_angle && s[0] == '@' && strchr(s, ':')) /* RFC 5322 4.4 obs-route */
		s = strchr(s, ':') + 1;
	while (*s == ' ' || *s == '\t')
		s++;
	size_t len = strlen(s);
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	int rc = 0;
	if (len) {
		char raw[SMTP_PATH_MAX + 8], addr[SMTP_PATH_MAX + 8];
		if (len >= sizeof raw || memchr(s, ' ', len) || memchr(s, '\t', len)) {
			rc = -1;
		} else {
			memcpy(raw, s, len);
			raw[len] = '\0';
			rc = sendmail_addr_final(raw, domain, addr, sizeof addr) ? 0 : -1;
			if (rc == 0 && sendmail_rcpts_add(out, addr) < 0) {
				fprintf(stderr, "tern sendmail: more than %d recipients\n", QUEUE_DROP_RCPTS_MAX);
				rc = -2;
			}
		}
		if (rc == -1)
			fprintf(stderr, "tern sendmail: invalid address in %s: %.*s\n", where, (int)(len > 300 ? 300 : len), s);
	}
	buf_reset(elem);
	buf_reset(angle);
	return rc;
}

/*
 * An RFC 5322 3.4 address list (unfolded: CR and LF count as blanks):
 * mailboxes "a@b", "Name <a@b>", "\"Quoted, Name\" <a@b>", groups
 * "team: a@b, c@d;", comments. Each address is qualified, checked and
 * added to out. 0, or -1 after printing what is wrong.
 */
static int sendmail_addr_list(const char *v, size_t n, const char *domain, struct sendmail_rcpts *out,
                              const char *where)
{
	struct buf elem, angle;
	buf_init(&elem, 4096);
	buf_init(&angle, 4096);
	bool have_angle = false;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0;) {
		char c = v[i];
		if (c == '"' || c == '[') {
			sendmail_addr_span(v, n, &i, &elem);
		} else if (c == '(') {
			sendmail_addr_span(v, n, &i, NULL);
		} else if (c == '<') {
			buf_reset(&angle);
			have_angle = true;
			for (i++; i < n && v[i] != '>';) {
				if (v[i] == '"' || v[i] == '[')
					sendmail_addr_span(v, n, &i, &angle);
				else if (v[i] != ' ' && v[i] != '\t' && v[i] != '\r' && v[i] != '\n')
					buf_putc(&angle, v[i++]);
				else
					i++;
			}
			i++;
		} else if (c == ':' && !have_angle) {
			buf_reset(&elem); /* a group's display name */
			i++;
		} else if (c == ',' || c == ';') {
			rc = sendmail_addr_emit(&elem, &angle, have_angle, domain, out, where);
			have_angle = false;
			i++;
		} else {
			buf_putc(&elem, (c == '\r' || c == '\n') ? ' ' : c);
			i++;
		}
	}
	if (rc == 0)
		rc = sendmail_addr_emit(&elem, &angle, have_angle, domain, out, where);
	buf_free(&elem);
	buf_free(&angle);
	return rc < 0 ? -1 : 0;
}

/* ------------------------------------------------------------ headers */

/* "Name:" at the start of a field (RFC 5322 3.6.8 ftext), name length or 0. */
static size_t sendmail_field_name(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && s[i] > 32 && s[i] < 127 && s[i] != ':')
		i++;
	return (i > 0 && i < n && s[i] == ':') ? i : 0;
}

static bool sendmail_field_is(const char *s, size_t n, const char *name)
{
	size_t k = sendmail_field_name(s, n);
	return k == strlen(name) && strncasecmp(s, name, k) == 0;
}

/* The end of the field that starts at off: its continuation lines too. */
static size_t sendmail_field_end(const char *h, size_t len, size_t off)
{
	const char *nl = memchr(h + off, '\n', len - off);
	size_t end = nl ? (size_t)(nl - h) + 1 : len;
	while (end < len && (h[end] == ' ' || h[end] == '\t')) {
		nl = memchr(h + end, '\n', len - end);
		end = nl ? (size_t)(nl - h) + 1 : len;
	}
	return end;
}

/* A display name as an RFC 5322 phrase: atoms as they are, anything else
 * as a quoted string; controls dropped. */
static void sendmail_put_phrase(struct buf *b, const char *name)
{
	bool plain = true;
	for (const char *s = name; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr(" !#$%&'*+-/=?^_`{|}~", *s) && (unsigned char)*s < 0x80)
			plain = false;
	if (!plain)
		buf_putc(b, '"');
	size_t k = 0;
	for (const char *s = name; *s && k < SENDMAIL_NAME_MAX; s++, k++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f)
			continue;
		if (!plain && (c == '"' || c == '\\'))
			buf_putc(b, '\\');
		buf_putc(b, (char)c);
	}
	if (!plain)
		buf_putc(b, '"');
}

/*
 * The header section as it is written: every field but Bcc, then the
 * missing From/Date/Message-ID. With -t, collect recipients from To, Cc
 * and Bcc on the way. EX_OK or an exit status.
 */
static int sendmail_headers(const struct sendmail_opts *o, const struct conf *c, const char *sender,
                            const char *login, const char *h, size_t len, struct buf *out,
                            struct sendmail_rcpts *rcpts)
{
	bool have_from = false, have_date = false, have_msgid = false;
	const char *dom = c->ndomains ? c->domains[0] : c->hostname;
	for (size_t off = 0; off < len;) {
		size_t end = sendmail_field_end(h, len, off);
		const char *f = h + off;
		size_t fl = end - off;
		size_t k = sendmail_field_name(f, fl);
		have_from |= sendmail_field_is(f, fl, "From");
		have_date |= sendmail_field_is(f, fl, "Date");
		have_msgid |= sendmail_field_is(f, fl, "Message-ID");
		bool bcc = sendmail_field_is(f, fl, "Bcc");
		if (o->extract && (bcc || sendmail_field_is(f, fl, "To") || sendmail_field_is(f, fl, "Cc"))) {
			char where[16];
			snprintf(where, sizeof where, "%.*s:", (int)(k < 8 ? k : 8), f);
			if (sendmail_addr_list(f + k + 1, fl - k - 1, dom, rcpts, where) < 0)
				return EX_DATAERR;
		}
		if (!bcc && buf_append(out, f, fl) < 0)
			return EX_DATAERR;
		if (fl && f[fl - 1] != '\n')
			buf_putc(out, '\n');
		off = end;
	}
	if (!have_from) {
		buf_puts(out, "From: ");
		if (o->fullname && *o->fullname) {
			sendmail_put_phrase(out, o->fullname);
			buf_puts(out, " ");
		}
		buf_printf(out, "<%s>\n", sender[0] ? sender : login);
	}
	if (!have_date) {
		char date[64];
		mail_header_date(time(NULL), date, sizeof date);
		buf_printf(out, "Date: %s\n", date);
	}
	if (!have_msgid) {
		char id[QUEUE_ID_MAX];
		queue_new_id(id);
		buf_printf(out, "Message-ID: <%s.%ld@%s>\n", id, (long)getpid(), c->hostname);
	}
	return EX_OK;
}

/* ------------------------------------------------------------ input */

static void sendmail_fail(struct sendmail_in *in, int status)
{
	if (in->err == 0)
		in->err = status;
}

static void sendmail_to_writer(struct sendmail_in *in, const char *p, size_t n)
{
	if (in->err || n == 0)
		return;
	if (queue_drop_writer_length(in->w) + n > in->max) {
		fprintf(stderr, "tern sendmail: message larger than max-message-size (%llu octets)\n",
		        (unsigned long long)in->max);
		sendmail_fail(in, EX_DATAERR);
		return;
	}
	if (queue_drop_writer_write(in->w, p, n) < 0) {
		fprintf(stderr, "tern sendmail: cannot write the message: %s\n", strerror(errno));
		sendmail_fail(in, EX_TEMPFAIL);
	}
}

/* A complete line just went into hdr: is the header section over? */
static void sendmail_header_line(struct sendmail_in *in)
{
	const char *line = in->hdr.data + in->line_start;
	size_t n = in->hdr.len - in->line_start; /* LF included */
	if (in->first_line && n >= 5 && memcmp(line, "From ", 5) == 0) {
		in->hdr.len = in->line_start; /* an mbox separator, not a field */
		in->hdr.data[in->hdr.len] = '\0';
		in->first_line = false;
		return;
	}
	bool cont = (line[0] == ' ' || line[0] == '\t') && in->line_start > 0;
	in->first_line = false;
	if (cont || (n > 1 && sendmail_field_name(line, n - 1))) {
		in->line_start = in->hdr.len;
		return;
	}
	in->in_headers = false;
	in->hdr_len = in->line_start;
	in->have_sep = n == 1;
}

/* Normalized octets (LF endings, terminator removed) go here: into the
 * header section, then (before the writer exists) into rest, then to the
 * drop file. */
static void sendmail_emit(struct sendmail_in *in, const char *p, size_t n)
{
	while (n && in->in_headers) {
		if (buf_putc(&in->hdr, *p) < 0) {
			/* Past the cap: what is being read is no header. */
			in->in_headers = false;
			in->hdr_len = in->line_start;
			in->have_sep = false;
			break;
		}
		char c = *p++;
		n--;
		if (c == '\n')
			sendmail_header_line(in);
	}
	if (n == 0)
		return;
	if (in->w == NULL) {
		if (buf_append(&in->rest, p, n) < 0) /* bounded by one read */
			sendmail_fail(in, EX_SOFTWARE);
		return;
	}
	sendmail_to_writer(in, p, n);
}

/* End of input (end of file, or the "." line): a held CR is content, a
 * held dot line the terminator; the last line gets its LF. */
static void sendmail_finish(struct sendmail_in *in)
{
	if (in->nheld && in->held[0] != '.') {
		sendmail_emit(in, in->held, in->nheld);
		in->at_bol = false;
	}
	in->nheld = 0;
	if (!in->at_bol) {
		sendmail_emit(in, "\n", 1);
		in->at_bol = true;
	}
	if (in->in_headers) {
		in->in_headers = false;
		in->hdr_len = in->hdr.len;
		in->have_sep = false;
	}
	in->eof = true;
}

/*
 * Feed raw input. The small automaton: a '.' at the start of a line and
 * a CR are held until the next octet tells what they are ("." LF ends
 * the message unless -i; CR LF becomes LF; anything else is content).
 */
static void sendmail_feed(struct sendmail_in *in, const char *p, size_t n)
{
	size_t run = 0; /* start of octets passed through unchanged */
	for (size_t i = 0; i < n && !in->ended; i++) {
		char c = p[i];
		if (in->nheld == 0) {
			if (c == '\r' || (c == '.' && in->at_bol && !in->ignore_dots)) {
				sendmail_emit(in, p + run, i - run);
				in->held[in->nheld++] = c;
				run = i + 1;
			} else {
				in->at_bol = c == '\n';
			}
			continue;
		}
		bool dot = in->held[0] == '.';
		if (c == '\n' && (in->held[in->nheld - 1] == '\r' || dot)) {
			if (dot) {
				in->ended = true; /* "." or ".\r" then LF */
				in->nheld = 0;
				return;
			}
			in->nheld = 0;
			in->at_bol = true;
			sendmail_emit(in, "\n", 1);
			run = i + 1;
			continue;
		}
		if (c == '\r' && dot && in->nheld == 1) {
			in->held[in->nheld++] = c;
			run = i + 1;
			continue;
		}
		/* The held octets were content after all; c is looked at anew. */
		sendmail_emit(in, in->held, in->nheld);
		in->nheld = 0;
		in->at_bol = false;
		run = i;
		i--;
	}
	if (!in->ended)
		sendmail_emit(in, p + run, n - run);
}

/* ------------------------------------------------------------ main */

static int sendmail_parse_opts(int argc, char **argv, struct sendmail_opts *o, int *mode)
{
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || a[1] == '\0')
			break;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		char opt = a[1];
		const char *val = a[2] ? a + 2 : NULL;
		switch (opt) {
		case 'C': case 'f': case 'r': case 'F':
		case 'B': case 'h': case 'L': case 'N': case 'O': case 'R': case 'V': case 'X':
			if (val == NULL) {
				if (i + 1 >= argc) {
					char why[64];
					snprintf(why, sizeof why, "option -%c needs an argument", opt);
					return sendmail_usage(why);
				}
				val = argv[++i];
			}
			if (opt == 'C')
				o->conf_path = val;
			else if (opt == 'f' || opt == 'r')
				o->sender = val;
			else if (opt == 'F')
				o->fullname = val;
			break;
		case 't':
		case 'i':
			/* grouped flags such as -ti */
			if (strspn(a + 1, "ti") != strlen(a + 1))
				return sendmail_usage("unknown option");
			for (const char *s = a + 1; *s; s++) {
				o->extract |= *s == 't';
				o->ignore_dots |= *s == 'i';
			}
			break;
		case 'o':
			if (val && strcmp(val, "i") == 0)
				o->ignore_dots = true;
			break; /* -oem, -odi, -om, ...: nothing to do here */
		case 'v': case 'm': case 'n': case 'U': case 'G': case 'I':
			break;
		case 'b':
			if (val && strcmp(val, "m") == 0)
				break;
			if (val && (strcmp(val, "p") == 0 || strcmp(val, "i") == 0)) {
				*mode = val[0];
				break;
			}
			return sendmail_usage("this mode is not supported (only -bm, -bp, -bi)");
		case 'q':
			*mode = 'q';
			break;
		default: {
			char why[64];
			snprintf(why, sizeof why, "unknown option -%c", opt);
			return sendmail_usage(why);
		}
		}
	}
	o->rcpt_args = argv + i;
	o->nrcpt_args = argc - i;
	return EX_OK;
}

/* -bp, -q: the queue command's faces, with the same configuration. */
static int sendmail_queue_face(const char *conf_path, const char *what)
{
	char *args[5];
	int n = 0;
	args[n++] = "queue";
	if (conf_path) {
		args[n++] = "-c";
		args[n++] = (char *)conf_path;
	}
	args[n++] = (char *)what;
	args[n] = NULL;
	return cmd_queue(n, args);
}

static int sendmail_load_conf(const char *explicit_path, struct conf *c)
{
	char err[1024];
	bool must_exist = false;
	const char *path = conf_choose_path(explicit_path, &must_exist);
	if (conf_load_chosen(path, CONF_LOAD_NO_USERS, c, err, sizeof err) < 0) {
		fprintf(stderr, "tern sendmail: %s\n", err);
		return EX_CONFIG;
	}
	return EX_OK;
}

/* Read standard input until the header section is complete (headers)
 * or to its end (body). EX_OK or EX_IOERR. */
static int sendmail_read(struct sendmail_in *in, bool headers_only)
{
	char chunk[65536];
	while (!in->eof && !in->err && (!headers_only || in->in_headers)) {
		ssize_t r = read(STDIN_FILENO, chunk, sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "tern sendmail: reading standard input: %s\n", strerror(errno));
			return EX_IOERR;
		}
		if (r > 0)
			sendmail_feed(in, chunk, (size_t)r);
		if (r == 0 || in->ended)
			sendmail_finish(in);
	}
	return in->err;
}

static int sendmail_errno_status(int e)
{
	return (e == EACCES || e == EPERM || e == EROFS || e == ENOENT || e == ENOTDIR) ? EX_CANTCREAT : EX_TEMPFAIL;
}

/* The login name and the default sender, login@hostname. */
static void sendmail_identity(const struct conf *c, char *login, size_t len)
{
	struct passwd *pw = getpwuid(getuid());
	if (pw && pw->pw_name && *pw->pw_name)
		snprintf(login, len, "%s@%s", pw->pw_name, c->hostname);
	else
		snprintf(login, len, "uid%u@%s", (unsigned)getuid(), c->hostname);
}

static int sendmail_run(const struct sendmail_opts *o, struct conf *c)
{
	char login[SMTP_PATH_MAX + 8], sender[SMTP_PATH_MAX + 8];
	struct sendmail_rcpts rcpts = {0};
	struct sendmail_in in = {.ignore_dots = o->ignore_dots, .at_bol = true, .in_headers = true,
	                         .first_line = true, .max = c->max_message_size};
	struct buf head;
	int st = EX_OK;
	buf_init(&in.hdr, SENDMAIL_HEADER_MAX);
	buf_init(&in.rest, 2 * 65536);
	buf_init(&head, SENDMAIL_HEADER_MAX + 4096);
	sendmail_identity(c, login, sizeof login);
	const char *dom = c->ndomains ? c->domains[0] : c->hostname;

	if (o->sender == NULL || strcmp(o->sender, "") == 0 || strcmp(o->sender, "<>") == 0) {
		snprintf(sender, sizeof sender, "%s", o->sender ? "" : login);
	} else {
		struct sendmail_rcpts one = {0};
		int r = sendmail_addr_list(o->sender, strlen(o->sender), c->hostname, &one, "-f");
		if (r == 0 && one.n == 1)
			snprintf(sender, sizeof sender, "%s", one.v[0]);
		sendmail_rcpts_free(&one);
		if (r < 0 || one.n != 1) {
			st = sendmail_usage("-f needs one sender address");
			goto out;
		}
	}
	for (int i = 0; i < o->nrcpt_args; i++) {
		if (sendmail_addr_list(o->rcpt_args[i], strlen(o->rcpt_args[i]), dom, &rcpts, "the arguments") < 0) {
			st = EX_USAGE;
			goto out;
		}
	}
	if (!o->extract && rcpts.n == 0) {
		st = sendmail_usage("no recipients: give them as arguments, or use -t");
		goto out;
	}
	if ((st = sendmail_read(&in, true)) != EX_OK)
		goto out;
	if ((st = sendmail_headers(o, c, sender, login, in.hdr.data ? in.hdr.data : "", in.hdr_len, &head,
	                           &rcpts)) != EX_OK)
		goto out;
	if (rcpts.n == 0) {
		fputs("tern sendmail: no recipient addresses found in the message header\n", stderr);
		st = EX_DATAERR;
		goto out;
	}
	if (queue_drop_ensure_dir(c->data_dir) < 0) {
		fprintf(stderr, "tern sendmail: cannot create %s/queue/drop: %s\n", c->data_dir, strerror(errno));
		st = sendmail_errno_status(errno);
		goto out;
	}
	in.w = queue_drop_writer_open(c->data_dir, sender, rcpts.v, rcpts.n);
	if (in.w == NULL) {
		fprintf(stderr, "tern sendmail: cannot write into %s/queue/drop: %s\n", c->data_dir, strerror(errno));
		st = errno == EINVAL ? EX_DATAERR : sendmail_errno_status(errno);
		goto out;
	}
	snprintf(sendmail_tmp_path, sizeof sendmail_tmp_path, "%s", queue_drop_writer_tmp_path(in.w));
	/* Our header section, the separator when the input had none but has
	 * a body, then the octets read past the header section. */
	sendmail_to_writer(&in, head.data, head.len);
	size_t body = in.hdr.len - in.hdr_len;
	if (!in.have_sep && (body > 0 || in.rest.len > 0 || !in.eof))
		sendmail_to_writer(&in, "\n", 1);
	sendmail_to_writer(&in, in.hdr.data + in.hdr_len, body);
	sendmail_to_writer(&in, in.rest.data, in.rest.len);
	if ((st = sendmail_read(&in, false)) != EX_OK)
		goto out;
	char name[QUEUE_ID_MAX];
	struct queue_drop_writer *w = in.w;
	in.w = NULL;
	if (queue_drop_writer_commit(w, name) < 0) {
		fprintf(stderr, "tern sendmail: cannot store the message: %s\n", strerror(errno));
		st = sendmail_errno_status(errno);
	}
	sendmail_tmp_path[0] = '\0';
out:
	queue_drop_writer_abort(in.w);
	sendmail_tmp_path[0] = '\0';
	sendmail_rcpts_free(&rcpts);
	buf_free(&in.hdr);
	buf_free(&in.rest);
	buf_free(&head);
	return st;
}

int cmd_sendmail(int argc, char **argv)
{
	struct sendmail_opts o = {0};
	int mode = 'm';
	int st = sendmail_parse_opts(argc, argv, &o, &mode);
	if (st != EX_OK)
		return st;
	if (mode == 'p')
		return sendmail_queue_face(o.conf_path, "list");
	if (mode == 'q')
		return sendmail_queue_face(o.conf_path, "flush");
	struct conf c;
	if ((st = sendmail_load_conf(o.conf_path, &c)) != EX_OK)
		return st;
	if (mode == 'i') {
		fputs("tern sendmail: aliases are read from the configuration file; nothing to rebuild\n", stderr);
		conf_free(&c);
		return EX_OK;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = sendmail_signal_cb;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	st = sendmail_run(&o, &c);
	conf_free(&c);
	return st;
}
