/*
 * auth_check — `tern auth check [-c FILE] [--dns ADDR:PORT] --ip IP
 * [--helo NAME] [--mail-from ADDR] < message` (CONTRACT.md): the whole
 * inbound verdict for a message, through mta/msgauth, the code the smtp
 * role runs. Standard output holds the Authentication-Results field the
 * server would add, folded as in a message; standard error says what the
 * server would then do with the message (under the configuration's
 * dmarc-policy), for the operator who wonders why mail was refused.
 *
 * The authserv-id is the configuration's hostname. An empty or missing
 * --mail-from is the null sender (SPF then checks --helo).
 *
 * Exit codes: 0 whatever the verdict; 64 usage error; 66 the message
 * cannot be read; 78 configuration error; 71 no loop or resolver.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cmd/auth_cmd.h"
#include "cmd/cmd.h"
#include "io/io.h"
#include "mta/msgauth.h"
#include "proto/smtp_reply.h"
#include "proto/spf.h"

#define AUTH_CHECK_USAGE \
	"usage: tern auth check [-c FILE] [--dns ADDR:PORT] --ip IP [--helo NAME] [--mail-from ADDR] < message\n"
#define AUTH_CHECK_MESSAGE_MAX (64 * 1024 * 1024)

struct auth_check {
	struct io_loop *loop;
	bool done;
	enum msgauth_action action;
	char *field;
	char summary[256];
};

static void auth_check_cb(void *arg, const struct msgauth_verdict *v)
{
	struct auth_check *st = arg;
	st->done = true;
	st->action = v->action;
	st->field = strdup(v->field);
	snprintf(st->summary, sizeof st->summary, "%s", v->summary);
	io_loop_exit(st->loop);
}

static int auth_check_usage(void)
{
	fputs(AUTH_CHECK_USAGE, stderr);
	return EX_USAGE;
}

/* What the smtp role does with this verdict, in its own words. */
static void auth_check_explain(enum msgauth_action a)
{
	enum smtp_reply_id id = a == MSGAUTH_REJECT      ? SMTP_R_DMARC_REJECT
	                        : a == MSGAUTH_AMBIGUOUS ? SMTP_R_FROM_AMBIGUOUS
	                        : a == MSGAUTH_TEMPFAIL  ? SMTP_R_AUTH_TEMPFAIL
	                                                 : SMTP_R_OK;
	if (id != SMTP_R_OK) {
		const struct smtp_reply *r = smtp_reply_get(id);
		fprintf(stderr, "tern auth check: the smtp role would refuse it: %d %s %s\n", r->code, r->status, r->text);
	} else {
		fprintf(stderr, "tern auth check: the smtp role would deliver it into %s\n",
		        a == MSGAUTH_JUNK ? "the Junk folder" : "the inbox");
	}
}

int auth_cmd_check(int argc, char **argv)
{
	const char *conf_path = NULL, *dns_arg = NULL, *ip = NULL, *helo = NULL, *from_arg = "";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **slot = strcmp(a, "-c") == 0            ? &conf_path
		                    : strcmp(a, "--dns") == 0       ? &dns_arg
		                    : strcmp(a, "--ip") == 0        ? &ip
		                    : strcmp(a, "--helo") == 0      ? &helo
		                    : strcmp(a, "--mail-from") == 0 ? &from_arg
		                                                    : NULL;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(AUTH_CHECK_USAGE, stdout);
			return EX_OK;
		}
		if (slot == NULL) {
			fprintf(stderr, "tern auth check: unknown argument '%s'\n", a);
			return auth_check_usage();
		}
		if (++i >= argc) {
			fprintf(stderr, "tern auth check: %s needs an argument\n", a);
			return auth_check_usage();
		}
		*slot = argv[i];
	}
	struct spf_ip parsed;
	if (ip == NULL || spf_ip_parse(ip, &parsed) < 0) {
		fprintf(stderr, "tern auth check: --ip needs an IPv4 or IPv6 address\n");
		return auth_check_usage();
	}
	if (strlen(from_arg) >= AUTH_CMD_ARG_MAX || (helo && strlen(helo) >= AUTH_CMD_ARG_MAX)) {
		fputs("tern auth check: --mail-from or --helo too long\n", stderr);
		return EX_USAGE;
	}
	char from[AUTH_CMD_ARG_MAX];
	auth_cmd_strip_brackets(from_arg, from, sizeof from);

	struct auth_cmd_env e;
	int rc = auth_cmd_env_open("tern auth check", conf_path, dns_arg, &e);
	struct auth_check st = {.loop = e.loop};
	struct msgauth *m = NULL;
	char *chunk = NULL;
	if (rc != EX_OK)
		goto out;
	struct msgauth_request req = {
		.ip = ip, .helo = helo && helo[0] ? helo : NULL, .mail_from = from, .authserv_id = e.c.hostname,
		.enforce = e.c.dmarc_enforce, .now = (int64_t)time(NULL),
	};
	rc = EX_OSERR;
	if ((m = msgauth_start(e.loop, e.dns, &req)) == NULL || (chunk = malloc(65536)) == NULL) {
		fputs("tern auth check: out of memory\n", stderr);
		goto out;
	}
	/* Streamed as the server streams it: the message is never held. */
	size_t total = 0;
	for (;;) {
		ssize_t r = read(STDIN_FILENO, chunk, 65536);
		if (r < 0) {
			perror("tern auth check: standard input");
			rc = EX_NOINPUT;
			goto out;
		}
		if (r == 0)
			break;
		total += (size_t)r;
		if (total > AUTH_CHECK_MESSAGE_MAX) {
			fputs("tern auth check: the message is larger than 64M\n", stderr);
			rc = EX_NOINPUT;
			goto out;
		}
		msgauth_feed(m, chunk, (size_t)r);
	}
	msgauth_finish(m, auth_check_cb, &st);
	io_loop_run(e.loop);
	if (!st.done || st.field == NULL) {
		fputs("tern auth check: the check did not finish\n", stderr);
		rc = EX_SOFTWARE;
		goto out;
	}
	fputs(st.field, stdout);
	auth_check_explain(st.action);
	rc = fflush(stdout) == 0 ? EX_OK : EX_IOERR;
out:
	free(chunk);
	free(st.field);
	msgauth_free(m);
	auth_cmd_env_close(&e);
	return rc;
}
