/*
 * queue_cmd — `tern queue [-c FILE] [list [--json] | show ID | flush |
 * delete ID]` (CONTRACT.md), also as `mailq` (list) — the queue seen and
 * steered from the command line.
 *
 * list and show read DATA-DIR/queue directly, so they work on a stopped
 * server; a running one is asked over its control socket (mta/control.h)
 * which messages are being delivered right now. flush needs the running
 * server. delete goes through the server when it runs (so that it never
 * delivers the message afterwards) and removes the files itself when it
 * does not.
 *
 * A recipient's state: "delivering" while an attempt is in flight (only
 * the running server knows), "deferred" once an attempt failed (it has a
 * last error), "queued" before the first attempt. Recipients already
 * delivered or bounced are not listed.
 *
 * Exit codes: 0; 64 usage or an invalid id; 66 no such message; 75 the
 * server is not running (flush) or did not answer; 77 permission denied
 * (the queue belongs to the server's user); 78 configuration error.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fsutil.h"
#include "cmd/cmd.h"
#include "conf/conf.h"
#include "io/unix.h"
#include "mta/control.h"
#include "proto/smtp_addr.h"
#include "queue/queue_drop.h"
#include "queue/queue_store.h"

#define QUEUE_CMD_WAIT_S     120            /* a delete waits for an attempt in flight */
#define QUEUE_CMD_ASK_S      10             /* list, flush: the server answers at once */
#define QUEUE_CMD_REPLY_MAX  (1024 * 1024)
#define QUEUE_CMD_HEADER_MAX (1024 * 1024)  /* show prints at most this much header */

enum queue_cmd_ctl { QUEUE_CMD_CTL_OK, QUEUE_CMD_CTL_ERROR, QUEUE_CMD_CTL_DOWN, QUEUE_CMD_CTL_FAIL };

struct queue_cmd_busy {
	char **ids;  /* owned: ids the server is delivering */
	size_t n;
};

static int queue_cmd_usage(void)
{
	fputs("usage: tern queue [-c FILE] [list [--json] | show ID | flush | delete ID]\n", stderr);
	return EX_USAGE;
}

/* ------------------------------------------------------------ control */

/*
 * Send one command to the running server and read its reply: the lines
 * before the final "ok" go to lines (may be NULL), the text of an
 * "error TEXT" to err. DOWN when nobody listens (errno kept).
 */
static enum queue_cmd_ctl queue_cmd_control(const struct conf *c, const char *cmd, unsigned timeout_s,
                                            struct buf *lines, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof path, "%s/%s", c->data_dir, CONTROL_SOCKET);
	if (n < 0 || (size_t)n >= sizeof path) {
		errno = ENAMETOOLONG;
		return QUEUE_CMD_CTL_FAIL;
	}
	int fd = io_unix_connect(path, timeout_s);
	if (fd < 0)
		return (errno == ENOENT || errno == ECONNREFUSED) ? QUEUE_CMD_CTL_DOWN : QUEUE_CMD_CTL_FAIL;
	enum queue_cmd_ctl rc = QUEUE_CMD_CTL_FAIL;
	struct buf in;
	buf_init(&in, QUEUE_CMD_REPLY_MAX);
	if (fsutil_write_all(fd, cmd, strlen(cmd)) < 0 || fsutil_write_all(fd, "\n", 1) < 0)
		goto out;
	char chunk[4096];
	for (;;) {
		char *nl;
		while (in.len && (nl = memchr(in.data, '\n', in.len)) != NULL) {
			*nl = '\0';
			size_t len = (size_t)(nl - in.data);
			if (strcmp(in.data, "ok") == 0) {
				rc = QUEUE_CMD_CTL_OK;
				goto out;
			}
			if (strncmp(in.data, "error", 5) == 0) {
				snprintf(err, errlen, "%s", in.data[5] == ' ' ? in.data + 6 : "unknown error");
				rc = QUEUE_CMD_CTL_ERROR;
				goto out;
			}
			if (lines && (buf_append(lines, in.data, len) < 0 || buf_putc(lines, '\n') < 0))
				goto out;
			buf_consume(&in, len + 1);
		}
		ssize_t r = read(fd, chunk, sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			errno = ECONNRESET;
		if (r <= 0 || buf_append(&in, chunk, (size_t)r) < 0)
			goto out;
	}
out:;
	int e = errno;
	buf_free(&in);
	close(fd);
	errno = e;
	return rc;
}

/* Which messages the running server is delivering (none when stopped). */
static void queue_cmd_busy_load(const struct conf *c, struct queue_cmd_busy *b)
{
	struct buf lines;
	char err[256];
	buf_init(&lines, QUEUE_CMD_REPLY_MAX);
	if (queue_cmd_control(c, "list", QUEUE_CMD_ASK_S, &lines, err, sizeof err) == QUEUE_CMD_CTL_OK && lines.data) {
		for (char *s = lines.data, *nl; (nl = strchr(s, '\n')) != NULL; s = nl + 1) {
			*nl = '\0';
			if (strncmp(s, "delivering ", 11) != 0 || !queue_id_is_valid(s + 11))
				continue;
			char **nv = realloc(b->ids, (b->n + 1) * sizeof *nv);
			if (nv == NULL)
				break;
			b->ids = nv;
			if ((b->ids[b->n] = strdup(s + 11)) != NULL)
				b->n++;
		}
	}
	buf_free(&lines);
}

static bool queue_cmd_busy_has(const struct queue_cmd_busy *b, const char *id)
{
	for (size_t i = 0; i < b->n; i++)
		if (strcmp(b->ids[i], id) == 0)
			return true;
	return false;
}

/* ------------------------------------------------------------ output */

static const char *queue_cmd_state(const struct queue_rcpt *r, bool delivering)
{
	if (delivering)
		return "delivering";
	return (r->attempts > 0 || r->last_error) ? "deferred" : "queued";
}

/* Text from the queue on a terminal: control octets but tab and LF (an
 * escape sequence hidden in an address or a header) become '?'. */
static void queue_cmd_put_safe(FILE *f, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		fputc((ch < 0x20 && ch != '\t' && ch != '\n') || ch == 0x7f ? '?' : (int)ch, f);
	}
}

/* A JSON string (RFC 8259 7): quotes, backslashes and controls escaped,
 * valid UTF-8 kept, any other octet as U+FFFD. */
static void queue_cmd_json_str(FILE *f, const char *s)
{
	if (s == NULL) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		unsigned char ch = (unsigned char)s[i];
		if (ch >= 0x80) {
			size_t k = smtp_addr_utf8_seq(s + i, n - i);
			if (k == 0) {
				fputs("\\ufffd", f);
				i++;
			} else {
				fwrite(s + i, 1, k, f);
				i += k;
			}
			continue;
		}
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch == '\t')
			fputs("\\t", f);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
		i++;
	}
	fputc('"', f);
}

static void queue_cmd_rfc3339(time_t t, char *out, size_t len)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	if (strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0 && len)
		out[0] = '\0';
}

static void queue_cmd_json_msg(const struct queue_env *env, bool busy, bool first)
{
	char when[40];
	queue_cmd_rfc3339(env->arrival, when, sizeof when);
	fputs(first ? "\n  {\"id\": " : ",\n  {\"id\": ", stdout);
	queue_cmd_json_str(stdout, env->id);
	printf(", \"size\": %" PRIu64 ", \"arrival\": \"%s\", \"sender\": ", env->content_len, when);
	queue_cmd_json_str(stdout, env->sender);
	fputs(", \"recipients\": [", stdout);
	bool any = false;
	for (size_t i = 0; i < env->nrcpts; i++) {
		const struct queue_rcpt *r = &env->rcpts[i];
		if (r->state != QUEUE_RCPT_PENDING)
			continue;
		fputs(any ? ", {\"address\": " : "{\"address\": ", stdout);
		queue_cmd_json_str(stdout, r->addr);
		printf(", \"state\": \"%s\", \"last_error\": ", queue_cmd_state(r, busy));
		queue_cmd_json_str(stdout, r->last_error);
		fputc('}', stdout);
		any = true;
	}
	fputs("]}", stdout);
}

#define QUEUE_CMD_INDENT 47 /* where the sender column starts */

static void queue_cmd_text_msg(const struct queue_env *env, bool busy)
{
	char when[32];
	struct tm tm;
	localtime_r(&env->arrival, &tm);
	if (strftime(when, sizeof when, "%a %b %e %H:%M:%S", &tm) == 0)
		when[0] = '\0';
	printf("%-15s%c %8" PRIu64 " %-20s ", env->id, busy ? '*' : ' ', env->content_len, when);
	if (env->sender[0])
		queue_cmd_put_safe(stdout, env->sender, strlen(env->sender));
	else
		fputs("MAILER-DAEMON", stdout); /* the null sender, as Postfix shows it */
	fputc('\n', stdout);
	for (size_t i = 0; i < env->nrcpts; i++) {
		const struct queue_rcpt *r = &env->rcpts[i];
		if (r->state != QUEUE_RCPT_PENDING)
			continue;
		printf("%*s", QUEUE_CMD_INDENT, "");
		queue_cmd_put_safe(stdout, r->addr, strlen(r->addr));
		printf("  %s\n", queue_cmd_state(r, busy));
		if (r->last_error) {
			printf("%*s(", QUEUE_CMD_INDENT + 2, "");
			queue_cmd_put_safe(stdout, r->last_error, strlen(r->last_error));
			fputs(")\n", stdout);
		}
	}
	fputc('\n', stdout);
}

static int queue_cmd_load_error(const char *id, int e)
{
	if (e == ENOENT) {
		fprintf(stderr, "tern queue: %s: no such message\n", id);
		return EX_NOINPUT;
	}
	fprintf(stderr, "tern queue: %s: %s\n", id, e == EINVAL ? "damaged queue file" : strerror(e));
	return e == EACCES || e == EPERM ? EX_NOPERM : EX_IOERR;
}

/* ------------------------------------------------------------ commands */

/* One message in the list, in either form. */
static void queue_cmd_emit(const struct queue_env *env, bool busy, bool json, size_t *shown, uint64_t *total)
{
	if (json) {
		queue_cmd_json_msg(env, busy, *shown == 0);
	} else {
		if (*shown == 0)
			printf("%-16s --Size-- ----Arrival Time---- -Sender/Recipient-------\n", "-Queue ID-");
		queue_cmd_text_msg(env, busy);
	}
	*total += env->content_len;
	(*shown)++;
}

/*
 * Messages `tern sendmail` left in the drop area that no server has
 * picked up yet (it is stopped): they are queued too, as mailq users
 * expect after a sendmail. Read only, validated like the pickup does;
 * a drop area the caller may not read is skipped.
 */
static void queue_cmd_list_drop(const struct conf *c, bool json, size_t *shown, uint64_t *total)
{
	char dir[PATH_MAX];
	if ((size_t)snprintf(dir, sizeof dir, "%s/queue/drop", c->data_dir) >= sizeof dir)
		return;
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) >= QUEUE_ID_MAX || !queue_id_is_valid(de->d_name))
			continue;
		struct queue_drop qd;
		if (queue_drop_open(c->data_dir, de->d_name, UINT64_MAX, &qd) < 0)
			continue;
		struct queue_rcpt *rv = calloc(qd.nrcpts ? qd.nrcpts : 1, sizeof *rv);
		if (rv != NULL) {
			struct queue_env env;
			memset(&env, 0, sizeof env);
			memcpy(env.id, de->d_name, strlen(de->d_name) + 1);
			env.arrival = qd.mtime;
			env.sender = qd.sender;
			env.content_len = qd.content_len;
			for (size_t i = 0; i < qd.nrcpts; i++)
				rv[i].addr = qd.rcpts[i];
			env.rcpts = rv;
			env.nrcpts = qd.nrcpts;
			queue_cmd_emit(&env, false, json, shown, total);
			free(rv);
		}
		queue_drop_close(&qd);
	}
	closedir(d);
}

static int queue_cmd_list(const struct conf *c, struct queue *q, bool json)
{
	char **ids = NULL;
	size_t nids = 0;
	if (queue_list_ids(q, &ids, &nids) < 0) {
		int e = errno;
		fprintf(stderr, "tern queue: %s/queue: %s\n", c->data_dir, strerror(e));
		return e == EACCES || e == EPERM ? EX_NOPERM : EX_IOERR;
	}
	struct queue_cmd_busy busy = {0};
	if (nids)
		queue_cmd_busy_load(c, &busy);
	uint64_t total = 0;
	size_t shown = 0;
	if (json)
		fputc('[', stdout);
	for (size_t i = 0; i < nids; i++) {
		struct queue_env env;
		if (queue_load(q, ids[i], &env) < 0) {
			if (errno != ENOENT) /* gone meanwhile: delivered */
				queue_cmd_load_error(ids[i], errno);
			continue;
		}
		queue_cmd_emit(&env, queue_cmd_busy_has(&busy, env.id), json, &shown, &total);
		queue_env_free(&env);
	}
	queue_cmd_list_drop(c, json, &shown, &total);
	if (json)
		fputs(shown ? "\n]\n" : "]\n", stdout);
	else if (shown == 0)
		puts("Mail queue is empty");
	else
		printf("-- %" PRIu64 " Kbytes in %zu Request%s.\n", (total + 1023) / 1024, shown, shown == 1 ? "" : "s");
	queue_ids_free(ids, nids);
	queue_ids_free(busy.ids, busy.n);
	return EX_OK;
}

/* The header section of the content, up to the empty line. */
static int queue_cmd_show_headers(struct queue *q, const struct queue_env *env)
{
	int fd = queue_open_content(q, env);
	if (fd < 0)
		return -1;
	struct buf h;
	buf_init(&h, QUEUE_CMD_HEADER_MAX);
	char chunk[8192];
	uint64_t left = env->content_len;
	bool done = false;
	while (!done && left > 0) {
		size_t want = left < sizeof chunk ? (size_t)left : sizeof chunk;
		ssize_t r = fsutil_read_all(fd, chunk, want);
		if (r <= 0)
			break;
		left -= (uint64_t)r;
		for (ssize_t i = 0; i < r; i++) {
			bool bol = h.len == 0 || h.data[h.len - 1] == '\n';
			if ((bol && chunk[i] == '\n') || buf_putc(&h, chunk[i]) < 0) {
				done = true;
				break;
			}
		}
	}
	close(fd);
	queue_cmd_put_safe(stdout, h.data ? h.data : "", h.len);
	if (h.len && h.data[h.len - 1] != '\n')
		fputc('\n', stdout);
	buf_free(&h);
	return 0;
}

static int queue_cmd_show(const struct conf *c, struct queue *q, const char *id)
{
	struct queue_env env;
	if (queue_load(q, id, &env) < 0)
		return queue_cmd_load_error(id, errno);
	struct queue_cmd_busy busy = {0};
	queue_cmd_busy_load(c, &busy);
	bool b = queue_cmd_busy_has(&busy, id);
	char when[40];
	queue_cmd_rfc3339(env.arrival, when, sizeof when);
	printf("id: %s\narrival: %s\nsize: %" PRIu64 "\nsender: <", env.id, when, env.content_len);
	queue_cmd_put_safe(stdout, env.sender, strlen(env.sender));
	fputs(">\n", stdout);
	const char *labels[] = {"helo", "client", "auth"};
	const char *vals[] = {env.helo, env.client, env.auth_user};
	for (size_t i = 0; i < 3; i++) {
		if (vals[i] == NULL)
			continue;
		printf("%s: ", labels[i]);
		queue_cmd_put_safe(stdout, vals[i], strlen(vals[i]));
		fputc('\n', stdout);
	}
	for (size_t i = 0; i < env.nrcpts; i++) {
		const struct queue_rcpt *r = &env.rcpts[i];
		const char *st = r->state == QUEUE_RCPT_DONE     ? "delivered"
		                 : r->state == QUEUE_RCPT_FAILED ? "failed"
		                                                 : queue_cmd_state(r, b);
		fputs("recipient: <", stdout);
		queue_cmd_put_safe(stdout, r->addr, strlen(r->addr));
		printf("> %s attempts=%u", st, r->attempts);
		if (r->orcpt && strcmp(r->orcpt, r->addr) != 0) {
			fputs(" orcpt=<", stdout);
			queue_cmd_put_safe(stdout, r->orcpt, strlen(r->orcpt));
			fputc('>', stdout);
		}
		if (r->last_error) {
			fputs(" last-error=\"", stdout);
			queue_cmd_put_safe(stdout, r->last_error, strlen(r->last_error));
			fputc('"', stdout);
		}
		fputc('\n', stdout);
	}
	fputc('\n', stdout);
	int rc = queue_cmd_show_headers(q, &env) < 0 ? queue_cmd_load_error(id, errno) : EX_OK;
	queue_ids_free(busy.ids, busy.n);
	queue_env_free(&env);
	return rc;
}

static int queue_cmd_ctl_status(enum queue_cmd_ctl r, const char *err)
{
	switch (r) {
	case QUEUE_CMD_CTL_OK:
		return EX_OK;
	case QUEUE_CMD_CTL_DOWN:
		fputs("tern queue: server not running\n", stderr);
		return EX_TEMPFAIL;
	case QUEUE_CMD_CTL_ERROR:
		fprintf(stderr, "tern queue: the server says: %s\n", err);
		return strcmp(err, "no such message") == 0 ? EX_NOINPUT : EX_SOFTWARE;
	default:
		fprintf(stderr, "tern queue: cannot talk to the server: %s\n", strerror(errno));
		return errno == EACCES || errno == EPERM ? EX_NOPERM : EX_TEMPFAIL;
	}
}

static int queue_cmd_delete(const struct conf *c, struct queue *q, const char *id)
{
	char err[256], cmd[QUEUE_ID_MAX + 8];
	snprintf(cmd, sizeof cmd, "delete %s", id);
	enum queue_cmd_ctl r = queue_cmd_control(c, cmd, QUEUE_CMD_WAIT_S, NULL, err, sizeof err);
	if (r != QUEUE_CMD_CTL_DOWN)
		return queue_cmd_ctl_status(r, err);
	/* No server: nothing can be delivering it. */
	if (queue_remove(q, id) < 0)
		return queue_cmd_load_error(id, errno);
	return EX_OK;
}

static int queue_cmd_load_conf(const char *explicit_path, struct conf *c)
{
	char err[1024];
	bool must_exist = false;
	const char *path = conf_choose_path(explicit_path, &must_exist);
	if (conf_load_chosen(path, CONF_LOAD_NO_USERS, c, err, sizeof err) < 0) {
		fprintf(stderr, "tern queue: %s\n", err);
		return EX_CONFIG;
	}
	return EX_OK;
}

int cmd_queue(int argc, char **argv)
{
	const char *conf_path = NULL;
	bool json = false;
	int i = 1;
	/* Options before the command; `mailq --json` and `-c` anywhere
	 * before it. Hand-made: getopt would take --json for an option. */
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (strcmp(a, "-c") == 0 || strcmp(a, "-C") == 0) {
			if (++i >= argc)
				return queue_cmd_usage();
			conf_path = argv[i];
		} else if (a[0] == '-' && (a[1] == 'c' || a[1] == 'C')) {
			conf_path = a + 2;
		} else if (strcmp(a, "--json") == 0) {
			json = true;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs("usage: tern queue [-c FILE] [list [--json] | show ID | flush | delete ID]\n", stdout);
			return EX_OK;
		} else if (a[0] == '-') {
			return queue_cmd_usage();
		} else {
			break;
		}
	}
	const char *cmd = i < argc ? argv[i++] : "list";
	const char *arg = NULL;
	if (strcmp(cmd, "list") == 0) {
		for (; i < argc; i++) {
			if (strcmp(argv[i], "--json") != 0)
				return queue_cmd_usage();
			json = true;
		}
	} else if (strcmp(cmd, "show") == 0 || strcmp(cmd, "delete") == 0) {
		if (i + 1 != argc || json)
			return queue_cmd_usage();
		arg = argv[i];
		if (!queue_id_is_valid(arg)) {
			fputs("tern queue: a queue id is letters and digits\n", stderr);
			return EX_USAGE;
		}
	} else if (strcmp(cmd, "flush") == 0) {
		if (i != argc || json)
			return queue_cmd_usage();
	} else {
		fprintf(stderr, "tern queue: unknown command '%s'\n", cmd);
		return queue_cmd_usage();
	}
	struct conf c;
	int st = queue_cmd_load_conf(conf_path, &c);
	if (st != EX_OK)
		return st;
	struct queue *q = queue_open(c.data_dir);
	if (q == NULL) {
		conf_free(&c);
		fputs("tern queue: out of memory\n", stderr);
		return EX_OSERR;
	}
	if (strcmp(cmd, "list") == 0) {
		st = queue_cmd_list(&c, q, json);
	} else if (strcmp(cmd, "show") == 0) {
		st = queue_cmd_show(&c, q, arg);
	} else if (strcmp(cmd, "delete") == 0) {
		st = queue_cmd_delete(&c, q, arg);
	} else {
		char err[256];
		st = queue_cmd_ctl_status(queue_cmd_control(&c, "flush", QUEUE_CMD_ASK_S, NULL, err, sizeof err), err);
	}
	queue_close(q);
	conf_free(&c);
	if (fflush(stdout) != 0 && st == EX_OK)
		st = EX_IOERR;
	return st;
}
