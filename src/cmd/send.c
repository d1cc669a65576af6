/*
 * send — `tern send [OPTIONS] [RCPT...] < message`: an SMTP submission
 * client for people and scripts (the job of msmtp and swaks), built on the
 * client engine the relay uses (proto/smtp_client) and one event loop run.
 *
 * Owns the command line and exit codes of CONTRACT.md ("tern send", "Exit
 * codes of the client faces"), the envelope taken from the message (RFC
 * 5322 3.6.2 From, 3.6.3 To/Cc/Bcc with -t; Bcc never leaves: 3.6.3
 * leaves its handling to the client, and msmtp and Postfix drop it too),
 * and the --trace format. The message is read whole (at most
 * SEND_MAX_MESSAGE) and checked before connecting: a line over 998 octets
 * (RFC 5322 2.1.1), a bare CR or a NUL is a data error (65), never sent
 * corrupted. Bare LF line endings are sent as CR LF.
 *
 * Recipients are the --to options and the arguments, and with -t also the
 * message's To, Cc and Bcc (as Postfix's sendmail -t adds them up).
 *
 * Exit status: 0 delivered to the server for every recipient; 64 usage;
 * 65 data; 69 a 5xx refusal or a failed certificate verification; 75 a 4xx
 * or a connection that failed; 78 a file named on the command line that
 * cannot be used. When recipients fare differently, the worst wins: a
 * permanent refusal (69) is worse than a temporary one (75).
 *
 * --trace: every protocol line on stderr as "+MS C: text" or "+MS S: text"
 * (MS: milliseconds since the TCP connection was established; AUTH
 * secrets masked by the engine; message content shown as one line), the
 * TLS handshake as "+MS TLS: version cipher", then "round trips: N, total:
 * T ms" (N as counted by the engine: every wait for the server after the
 * greeting).
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "cmd/cmd.h"
#include "io/client.h"
#include "io/io.h"
#include "mta/smtpc.h"
#include "proto/mail_addrlist.h"
#include "proto/smtp_addr.h"
#include "proto/smtp_client.h"
#include "proto/smtp_content.h"

#define SEND_MAX_MESSAGE (64u * 1024 * 1024) /* octets of stdin held in memory */
#define SEND_CONNECT_TIMEOUT 30              /* seconds, per address */
#define SEND_TLS_TIMEOUT 60                  /* seconds for a TLS handshake */

struct send_opts {
	char host[256];
	int port;
	const char *from;
	bool from_given;
	bool read_headers; /* -t */
	bool starttls, tls, insecure, no_pipelining, no_chunking, trace;
	const char *user, *password_file, *cafile, *ehlo;
	char password[1024];
	char ehlo_buf[256];
};

/* Recipients: copies, with the place they came from (64 or 65 if bad). */
struct send_rcpts {
	char **addr;
	bool *from_header;
	size_t n, cap;
	bool overflow;
};

struct send_state {
	const struct send_opts *o;
	struct io_loop *loop;
	struct io_conn *conn;
	struct io_connect_tls *tls;
	struct smtp_client cli;
	struct smtp_client_txn txn;
	struct io_connect_addr addrs[IO_CONNECT_MAX_ADDRS];
	size_t naddrs, ai;
	const char *msg;
	size_t msglen;
	char server[300];     /* "host:port" for messages */
	char last_error[256]; /* why the last connect failed */
	uint64_t t0;          /* when the connection was established */
	bool connected, tls_started, tls_up, txn_started, closing, finished;
	int exit_code;        /* set by failures outside the engine */
};

static uint64_t send_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void send_usage(void)
{
	fputs("usage: tern send [--server HOST[:PORT]] [--from ADDR] [--to ADDR]... [-t]\n"
	      "                 [--starttls | --tls] [--cafile FILE] [--insecure]\n"
	      "                 [--user NAME [--password-file FILE]] [--ehlo NAME]\n"
	      "                 [--no-pipelining] [--no-chunking] [--trace] [RCPT...] < message\n"
	      "  The password comes from --password-file or the environment variable TERN_PASSWORD.\n",
	      stderr);
}

/* ---- the command line ---- */

/* "HOST", "HOST:PORT", "[V6]", "[V6]:PORT", or a bare IPv6 address. */
static int send_parse_server(const char *s, struct send_opts *o, bool port_default_465)
{
	const char *host = s, *port = NULL;
	size_t hl;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL || (rb[1] != '\0' && rb[1] != ':'))
			return -1;
		host = s + 1;
		hl = (size_t)(rb - host);
		port = rb[1] == ':' ? rb + 2 : NULL;
	} else {
		const char *colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':') == NULL) {
			hl = (size_t)(colon - s);
			port = colon + 1;
		} else {
			hl = strlen(s); /* no port, or a bare IPv6 address */
		}
	}
	if (hl == 0 || hl >= sizeof o->host)
		return -1;
	memcpy(o->host, host, hl);
	o->host[hl] = '\0';
	o->port = port_default_465 ? 465 : 25;
	if (port) {
		char *end;
		errno = 0;
		long v = strtol(port, &end, 10);
		if (*port == '\0' || *end != '\0' || errno || v < 1 || v > 65535)
			return -1;
		o->port = (int)v;
	}
	return 0;
}

static int send_rcpts_add(struct send_rcpts *r, const char *a, size_t n, bool from_header)
{
	for (size_t i = 0; i < r->n; i++)
		if (strlen(r->addr[i]) == n && strncasecmp(r->addr[i], a, n) == 0)
			return 0; /* the same recipient once */
	if (r->n >= SMTP_CLIENT_MAX_RCPTS) {
		r->overflow = true;
		return -1;
	}
	if (r->n == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 8;
		char **na = realloc(r->addr, ncap * sizeof *na);
		if (na == NULL)
			return -1;
		r->addr = na;
		bool *nf = realloc(r->from_header, ncap * sizeof *nf);
		if (nf == NULL)
			return -1;
		r->from_header = nf;
		r->cap = ncap;
	}
	char *copy = strndup(a, n);
	if (copy == NULL)
		return -1;
	r->addr[r->n] = copy;
	r->from_header[r->n] = from_header;
	r->n++;
	return 0;
}

static void send_rcpts_free(struct send_rcpts *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->addr[i]);
	free(r->addr);
	free(r->from_header);
}

struct send_collect {
	struct send_rcpts *r;
	bool from_header;
};

static void send_collect_cb(void *arg, const char *addr, size_t len)
{
	struct send_collect *c = arg;
	send_rcpts_add(c->r, addr, len, c->from_header);
}

/* The first address of a list, into out ("" when none). */
static void send_first_cb(void *arg, const char *addr, size_t len)
{
	char *out = arg;
	if (out[0] == '\0' && len < SMTP_PATH_MAX)
		snprintf(out, SMTP_PATH_MAX, "%.*s", (int)len, addr);
}

/* First line of FILE, or TERN_PASSWORD. 0, EX_USAGE or EX_CONFIG. */
static int send_read_password(struct send_opts *o)
{
	if (o->password_file) {
		FILE *f = fopen(o->password_file, "r");
		if (f == NULL) {
			fprintf(stderr, "tern send: %s: %s\n", o->password_file, strerror(errno));
			return EX_CONFIG;
		}
		if (fgets(o->password, sizeof o->password, f) == NULL)
			o->password[0] = '\0';
		fclose(f);
		o->password[strcspn(o->password, "\r\n")] = '\0';
		return 0;
	}
	const char *env = getenv("TERN_PASSWORD");
	if (env == NULL) {
		fputs("tern send: --user needs a password: --password-file FILE or TERN_PASSWORD\n", stderr);
		return EX_USAGE;
	}
	if (strlen(env) >= sizeof o->password) {
		fputs("tern send: TERN_PASSWORD is too long\n", stderr);
		return EX_USAGE;
	}
	snprintf(o->password, sizeof o->password, "%s", env);
	return 0;
}

enum { SEND_OPT_SERVER = 256, SEND_OPT_FROM, SEND_OPT_TO, SEND_OPT_STARTTLS, SEND_OPT_TLS, SEND_OPT_USER,
       SEND_OPT_PWFILE, SEND_OPT_CAFILE, SEND_OPT_INSECURE, SEND_OPT_EHLO, SEND_OPT_NOPIPE, SEND_OPT_NOCHUNK,
       SEND_OPT_TRACE };

static const struct option send_options[] = {
	{"server", required_argument, NULL, SEND_OPT_SERVER},
	{"from", required_argument, NULL, SEND_OPT_FROM},
	{"to", required_argument, NULL, SEND_OPT_TO},
	{"starttls", no_argument, NULL, SEND_OPT_STARTTLS},
	{"tls", no_argument, NULL, SEND_OPT_TLS},
	{"user", required_argument, NULL, SEND_OPT_USER},
	{"password-file", required_argument, NULL, SEND_OPT_PWFILE},
	{"cafile", required_argument, NULL, SEND_OPT_CAFILE},
	{"insecure", no_argument, NULL, SEND_OPT_INSECURE},
	{"ehlo", required_argument, NULL, SEND_OPT_EHLO},
	{"no-pipelining", no_argument, NULL, SEND_OPT_NOPIPE},
	{"no-chunking", no_argument, NULL, SEND_OPT_NOCHUNK},
	{"trace", no_argument, NULL, SEND_OPT_TRACE},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* Options into o, recipients given as arguments into r: 0 or an exit code. */
static int send_parse_args(int argc, char **argv, struct send_opts *o, struct send_rcpts *r)
{
	const char *server = "127.0.0.1";
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "th", send_options, NULL)) != -1) {
		struct send_collect col = {r, false};
		switch (ch) {
		case SEND_OPT_SERVER:
			server = optarg;
			break;
		case SEND_OPT_FROM:
			o->from = optarg;
			o->from_given = true;
			break;
		case SEND_OPT_TO:
			mail_addrlist_parse(optarg, strlen(optarg), send_collect_cb, &col);
			break;
		case SEND_OPT_STARTTLS:
			o->starttls = true;
			break;
		case SEND_OPT_TLS:
			o->tls = true;
			break;
		case SEND_OPT_USER:
			o->user = optarg;
			break;
		case SEND_OPT_PWFILE:
			o->password_file = optarg;
			break;
		case SEND_OPT_CAFILE:
			o->cafile = optarg;
			break;
		case SEND_OPT_INSECURE:
			o->insecure = true;
			break;
		case SEND_OPT_EHLO:
			o->ehlo = optarg;
			break;
		case SEND_OPT_NOPIPE:
			o->no_pipelining = true;
			break;
		case SEND_OPT_NOCHUNK:
			o->no_chunking = true;
			break;
		case SEND_OPT_TRACE:
			o->trace = true;
			break;
		case 't':
			o->read_headers = true;
			break;
		case 'h':
			send_usage();
			return -1;
		default:
			send_usage();
			return EX_USAGE;
		}
	}
	for (int i = optind; i < argc; i++) {
		struct send_collect col = {r, false};
		mail_addrlist_parse(argv[i], strlen(argv[i]), send_collect_cb, &col);
	}
	if (o->starttls && o->tls) {
		fputs("tern send: --starttls and --tls exclude each other\n", stderr);
		return EX_USAGE;
	}
	if (send_parse_server(server, o, o->tls) < 0) {
		fprintf(stderr, "tern send: bad --server '%s': HOST[:PORT] or [IPv6]:PORT\n", server);
		return EX_USAGE;
	}
	if (o->password_file && o->user == NULL) {
		fputs("tern send: --password-file needs --user\n", stderr);
		return EX_USAGE;
	}
	if (o->user) {
		int rc = send_read_password(o);
		if (rc)
			return rc;
	}
	if (o->ehlo == NULL) {
		if (gethostname(o->ehlo_buf, sizeof o->ehlo_buf) < 0 || o->ehlo_buf[0] == '\0')
			snprintf(o->ehlo_buf, sizeof o->ehlo_buf, "localhost");
		o->ehlo_buf[sizeof o->ehlo_buf - 1] = '\0';
		o->ehlo = o->ehlo_buf;
	}
	if (strpbrk(o->ehlo, " \t\r\n") || o->ehlo[0] == '\0') {
		fputs("tern send: bad --ehlo name\n", stderr);
		return EX_USAGE;
	}
	return 0;
}

/* ---- the message ---- */

/* All of stdin into b (bounded): 0 or an exit code. */
static int send_read_message(struct buf *b)
{
	char chunk[65536];
	for (;;) {
		size_t n = fread(chunk, 1, sizeof chunk, stdin);
		if (n > 0 && buf_append(b, chunk, n) < 0) {
			fprintf(stderr, "tern send: the message is larger than %u octets\n", SEND_MAX_MESSAGE);
			return EX_DATAERR;
		}
		if (n < sizeof chunk) {
			if (ferror(stdin)) {
				fprintf(stderr, "tern send: reading the message: %s\n", strerror(errno));
				return EX_IOERR;
			}
			return 0;
		}
	}
}

/*
 * The envelope from the header section: the sender from From: unless
 * --from was given; with -t, To, Cc and Bcc. Bcc is then removed from the
 * message. 0 or an exit code.
 */
static int send_envelope(struct send_opts *o, struct buf *msg, struct send_rcpts *r, char *from)
{
	size_t hlen = mail_addrlist_header_len(msg->data ? msg->data : "", msg->len);
	struct buf v;
	buf_init(&v, 1024 * 1024);
	if (o->read_headers) {
		static const char *const fields[] = {"To", "Cc", "Bcc"};
		for (size_t i = 0; i < 3; i++) {
			buf_reset(&v);
			if (mail_addrlist_field(msg->data, hlen, fields[i], &v) < 0) {
				buf_free(&v);
				fprintf(stderr, "tern send: the %s: header is too long\n", fields[i]);
				return EX_DATAERR;
			}
			struct send_collect col = {r, true};
			mail_addrlist_parse(v.data ? v.data : "", v.len, send_collect_cb, &col);
		}
	}
	from[0] = '\0';
	if (o->from_given) {
		if (strcmp(o->from, "<>") != 0)
			mail_addrlist_parse(o->from, strlen(o->from), send_first_cb, from);
		if (from[0] == '\0' && o->from[0] != '\0' && strcmp(o->from, "<>") != 0) {
			buf_free(&v);
			fprintf(stderr, "tern send: bad --from address '%s'\n", o->from);
			return EX_USAGE;
		}
	} else {
		buf_reset(&v);
		if (mail_addrlist_field(msg->data, hlen, "From", &v) > 0)
			mail_addrlist_parse(v.data, v.len, send_first_cb, from);
		if (from[0] == '\0') {
			buf_free(&v);
			fputs("tern send: no sender: give --from or a From: header\n", stderr);
			return EX_USAGE;
		}
	}
	buf_free(&v);
	if (msg->len)
		msg->len = mail_addrlist_remove_field(msg->data, msg->len, "Bcc");
	return 0;
}

/* ---- the session ---- */

static void send_finish(struct send_state *st)
{
	if (st->finished)
		return;
	st->finished = true;
	io_loop_exit(st->loop);
}

static void send_trace_cb(void *ctx, char dir, const char *line, size_t len)
{
	struct send_state *st = ctx;
	if (!st->o->trace)
		return;
	struct buf b;
	buf_init(&b, 0);
	buf_put_escaped(&b, line, len, 4096);
	fprintf(stderr, "+%llu %c: %s\n", (unsigned long long)(send_now_ms() - st->t0), dir, b.data ? b.data : "");
	buf_free(&b);
}

static const struct smtp_client_ops send_client_ops = {.trace = send_trace_cb};

/* The whole message, at once: tern send holds it in memory. */
static void send_content_cb(void *arg)
{
	struct send_state *st = arg;
	smtp_client_content(&st->cli, st->msg, st->msglen, true);
}

/* Feed what arrived, act on the engine's state, send what it wrote
 * (mta/smtpc, shared with the relay). */
static void send_process(struct send_state *st)
{
	struct smtp_client *c = &st->cli;
	struct smtpc_step step = {
		.txn = &st->txn,
		.txn_started = &st->txn_started,
		.content = send_content_cb,
		.arg = st,
		.write_timeout = SMTP_CLIENT_TIMEOUT_BLOCK,
	};
	enum smtpc_next next = smtpc_step(st->conn, c, &step);
	if (next == SMTPC_TLS && !st->tls_started) {
		st->tls_started = true;
		io_conn_set_timeout(st->conn, SEND_TLS_TIMEOUT, SEND_TLS_TIMEOUT);
		if (io_connect_start_tls(st->conn, st->tls) < 0) {
			smtp_client_abort(c, "cannot start TLS");
			send_finish(st);
		}
		return;
	}
	if (smtp_client_is_closed(c)) {
		st->closing = true;
		if (io_conn_output_len(st->conn) == 0)
			send_finish(st);
	}
}

static void send_connect_next(struct send_state *st);

static void send_readable_cb(void *arg)
{
	send_process(arg);
}

static void send_drained_cb(void *arg)
{
	struct send_state *st = arg;
	if (st->closing)
		send_finish(st);
}

static void send_connected_cb(void *arg)
{
	struct send_state *st = arg;
	st->connected = true;
	st->t0 = send_now_ms();
	if (st->o->tls) {
		st->tls_started = true;
		io_conn_set_timeout(st->conn, SEND_TLS_TIMEOUT, SEND_TLS_TIMEOUT);
		if (io_connect_start_tls(st->conn, st->tls) < 0) {
			snprintf(st->last_error, sizeof st->last_error, "cannot start TLS");
			st->exit_code = EX_TEMPFAIL;
			fprintf(stderr, "tern send: %s: cannot start TLS\n", st->server);
			send_finish(st);
		}
		return;
	}
	io_conn_set_timeout(st->conn, SMTP_CLIENT_TIMEOUT_GREETING, SMTP_CLIENT_TIMEOUT_BLOCK);
}

static void send_tls_ready_cb(void *arg)
{
	struct send_state *st = arg;
	st->tls_up = true;
	if (st->o->trace)
		fprintf(stderr, "+%llu TLS: %s %s\n", (unsigned long long)(send_now_ms() - st->t0),
		        io_conn_tls_version(st->conn), io_conn_tls_cipher(st->conn));
	if (smtp_client_wants_tls(&st->cli))
		smtp_client_tls_done(&st->cli);
	else
		io_conn_set_timeout(st->conn, SMTP_CLIENT_TIMEOUT_GREETING, SMTP_CLIENT_TIMEOUT_BLOCK);
	send_process(st);
}

static void send_closed_cb(void *arg, const char *why)
{
	int err = errno;
	struct send_state *st = arg;
	if (!st->connected) {
		snprintf(st->last_error, sizeof st->last_error, "%s",
		         strcmp(why, "timeout") == 0 ? "connection timed out"
		         : err                       ? strerror(err)
		                                     : "connection failed");
		io_conn_free(st->conn);
		st->conn = NULL;
		send_connect_next(st);
		return;
	}
	if (st->tls_started && !st->tls_up) {
		char reason[256];
		if (io_connect_tls_verify_failed(st->tls, reason, sizeof reason)) {
			fprintf(stderr, "tern send: %s: TLS: certificate verification failed: %s\n", st->server, reason);
			st->exit_code = EX_UNAVAILABLE;
		} else {
			fprintf(stderr, "tern send: %s: TLS handshake failed (%s)\n", st->server, why);
			st->exit_code = EX_TEMPFAIL;
		}
		smtp_client_abort(&st->cli, "TLS handshake failed");
		send_finish(st);
		return;
	}
	/* Whatever is still buffered may hold the last replies. */
	if (!smtp_client_is_closed(&st->cli))
		send_process(st);
	smtp_client_abort(&st->cli, why);
	send_finish(st);
}

static const struct io_conn_handlers send_conn_handlers = {
	.readable = send_readable_cb,
	.drained = send_drained_cb,
	.closed = send_closed_cb,
	.tls_ready = send_tls_ready_cb,
	.connected = send_connected_cb,
};

/* Try the next address; when none is left, fail temporarily. */
static void send_connect_next(struct send_state *st)
{
	while (st->ai < st->naddrs) {
		struct io_connect_addr *a = &st->addrs[st->ai++];
		st->conn = io_conn_connect(st->loop, (struct sockaddr *)&a->sa, a->len, SEND_CONNECT_TIMEOUT,
		                           &send_conn_handlers, st);
		if (st->conn)
			return;
		snprintf(st->last_error, sizeof st->last_error, "%s", strerror(errno));
	}
	fprintf(stderr, "tern send: cannot connect to %s: %s\n", st->server, st->last_error);
	st->exit_code = EX_TEMPFAIL;
	send_finish(st);
}

/* ---- the outcome ---- */

static int send_class_exit(const struct smtp_client_reply *r)
{
	return smtp_client_reply_class(r) == 5 ? EX_UNAVAILABLE : EX_TEMPFAIL;
}

/* 69 is worse than 75: a permanent refusal will not go away by retrying. */
static int send_worse(int a, int b)
{
	if (a == EX_UNAVAILABLE || b == EX_UNAVAILABLE)
		return EX_UNAVAILABLE;
	return a ? a : b;
}

static int send_outcome(struct send_state *st)
{
	if (st->exit_code)
		return st->exit_code;
	struct smtp_client *c = &st->cli;
	if (!st->txn_started || !st->txn.done) {
		if (!c->failed) {
			fprintf(stderr, "tern send: %s: the session ended early\n", st->server);
			return EX_TEMPFAIL;
		}
		fprintf(stderr, "tern send: %s: %s%s\n", st->server, c->error.local ? "" : "server replied: ",
		        smtp_client_reply_text(&c->error));
		return send_class_exit(&c->error);
	}
	int code = 0;
	for (size_t i = 0; i < st->txn.nrcpts; i++) {
		const struct smtp_client_rcpt *r = &st->txn.rcpts[i];
		if (r->state == SMTP_CLIENT_RCPT_DELIVERED)
			continue;
		fprintf(stderr, "tern send: <%s>: %s%s\n", r->addr, r->reply.local ? "not sent: " : "refused: ",
		        smtp_client_reply_text(&r->reply));
		code = send_worse(code, send_class_exit(&r->reply));
	}
	if (code == 0 && !st->txn.ok) {
		fprintf(stderr, "tern send: %s: %s\n", st->server, smtp_client_reply_text(&st->txn.reply));
		code = send_class_exit(&st->txn.reply);
	}
	return code;
}

/* One event loop run: connect, talk, and the exit code. */
static int send_session(const struct send_opts *o, struct smtp_client_txn *txn, const char *msg, size_t msglen)
{
	struct send_state st;
	memset(&st, 0, sizeof st);
	st.o = o;
	st.msg = msg;
	st.msglen = msglen;
	st.txn = *txn;
	snprintf(st.server, sizeof st.server, strchr(o->host, ':') ? "[%s]:%d" : "%s:%d", o->host, o->port);
	char err[300];
	bool temporary = false;
	int n = io_connect_resolve(o->host, o->port, st.addrs, IO_CONNECT_MAX_ADDRS, &temporary, err, sizeof err);
	if (n < 0) {
		fprintf(stderr, "tern send: %s\n", err);
		return temporary ? EX_TEMPFAIL : EX_UNAVAILABLE;
	}
	st.naddrs = (size_t)n;
	if (o->tls || o->starttls) {
		st.tls = io_connect_tls_new(o->host, o->cafile, o->insecure, err, sizeof err);
		if (st.tls == NULL) {
			fprintf(stderr, "tern send: %s\n", err);
			return EX_CONFIG;
		}
	}
	struct smtp_client_config cfg = {
		.helo = o->ehlo,
		.starttls = o->starttls ? SMTP_CLIENT_TLS_REQUIRED : SMTP_CLIENT_TLS_NONE,
		.tls_active = o->tls,
		.user = o->user,
		.password = o->user ? o->password : NULL,
		.no_pipelining = o->no_pipelining,
		.no_chunking = o->no_chunking,
	};
	smtp_client_init(&st.cli, &cfg, &send_client_ops, &st);
	st.loop = io_loop_new();
	if (st.loop == NULL) {
		fputs("tern send: cannot create the event loop\n", stderr);
		smtp_client_free(&st.cli);
		io_connect_tls_free(st.tls);
		return EX_TEMPFAIL;
	}
	send_connect_next(&st);
	if (!st.finished)
		io_loop_run(st.loop);
	int code = send_outcome(&st);
	if (o->trace)
		fprintf(stderr, "round trips: %u, total: %llu ms\n", st.cli.round_trips,
		        (unsigned long long)(st.connected ? send_now_ms() - st.t0 : 0));
	*txn = st.txn;
	io_conn_free(st.conn);
	smtp_client_free(&st.cli);
	io_loop_free(st.loop);
	io_connect_tls_free(st.tls);
	return code;
}

int cmd_send(int argc, char **argv)
{
	struct send_opts o;
	struct send_rcpts r;
	struct buf msg;
	char from[SMTP_PATH_MAX + 1];
	memset(&o, 0, sizeof o);
	memset(&r, 0, sizeof r);
	buf_init(&msg, SEND_MAX_MESSAGE);
	int rc = send_parse_args(argc, argv, &o, &r);
	if (rc == 0)
		rc = send_read_message(&msg);
	if (rc == 0)
		rc = send_envelope(&o, &msg, &r, from);
	if (rc == 0 && r.overflow) {
		fprintf(stderr, "tern send: more than %d recipients\n", SMTP_CLIENT_MAX_RCPTS);
		rc = EX_USAGE;
	}
	if (rc == 0 && r.n == 0) {
		fputs("tern send: no recipients: give --to, arguments, or -t\n", stderr);
		rc = EX_USAGE;
	}
	bool utf8;
	if (rc == 0 && smtp_client_addr_check(from, true, &utf8) < 0) {
		fprintf(stderr, "tern send: bad sender address <%s>\n", from);
		rc = o.from_given ? EX_USAGE : EX_DATAERR;
	}
	for (size_t i = 0; rc == 0 && i < r.n; i++) {
		if (smtp_client_addr_check(r.addr[i], false, &utf8) < 0) {
			fprintf(stderr, "tern send: bad recipient address <%s>\n", r.addr[i]);
			rc = r.from_header[i] ? EX_DATAERR : EX_USAGE;
		}
	}
	/* The content is checked whole before anything is sent. */
	struct smtp_content scan;
	smtp_content_init(&scan, false);
	if (rc == 0 && (smtp_content_feed(&scan, msg.data ? msg.data : "", msg.len, NULL) < 0 ||
	                smtp_content_finish(&scan, NULL) < 0)) {
		char why[200];
		smtp_content_strerror(&scan, why, sizeof why);
		fprintf(stderr, "tern send: the message cannot be sent: %s\n", why);
		rc = EX_DATAERR;
	}
	if (rc == 0) {
		struct smtp_client_rcpt *cr = calloc(r.n, sizeof *cr);
		if (cr == NULL) {
			rc = EX_TEMPFAIL;
		} else {
			for (size_t i = 0; i < r.n; i++)
				cr[i].addr = r.addr[i];
			struct smtp_client_txn txn = {
				.from = from,
				.rcpts = cr,
				.nrcpts = r.n,
				.size = scan.size,
				.eightbit = scan.eightbit,
				.utf8_headers = scan.header_8bit,
				.last = true,
			};
			rc = send_session(&o, &txn, msg.data ? msg.data : "", msg.len);
			free(cr);
		}
	}
	explicit_bzero(o.password, sizeof o.password);
	send_rcpts_free(&r);
	buf_free(&msg);
	return rc < 0 ? 0 : rc;
}
