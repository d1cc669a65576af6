/*
 * auth_cmd — `tern auth spf [-c FILE] [--dns ADDR:PORT] IP MAIL-FROM [HELO]`
 * (CONTRACT.md): one SPF check (RFC 7208) as the smtp role would make
 * it, through mta/spf_check over the configured resolver.
 *
 * Prints the result on the first line and, for fail, the explanation on
 * the second (the domain's exp= text, else a default naming the domain).
 * MAIL-FROM may be given with or without angle brackets; "" (or "<>")
 * checks the HELO identity, which then must be given (RFC 7208 2.3);
 * "@domain" and a bare "domain" are postmaster@domain (4.3). -v adds the
 * reason and the number of DNS questions on standard error.
 *
 * %{r} (the receiving host, 7.3) is the configuration's hostname; the
 * DNS server is --dns, else the configuration's `dns`, else the system's.
 *
 * Exit codes: 0 whatever the result; 64 usage error; 78 configuration
 * error; 71 the loop or the resolver could not be set up. `tern auth
 * check` lives in auth_check.c; what both share is here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "cmd/auth_cmd.h"
#include "cmd/cmd.h"
#include "conf/conf.h"
#include "io/dns.h"
#include "io/io.h"
#include "mta/spf_check.h"
#include "proto/spf.h"

#define AUTH_CMD_USAGE                                                                              \
	"usage: tern auth spf [-c FILE] [--dns ADDR:PORT] [-v] IP MAIL-FROM [HELO]\n"                   \
	"       tern auth check [-c FILE] [--dns ADDR:PORT] --ip IP [--helo NAME] [--mail-from ADDR] < message\n"

struct auth_cmd_spf {
	struct io_loop *loop;
	bool done;
	enum spf_result result;
	char explanation[SPF_EXPLAIN_MAX + 1];
	char reason[SPF_REASON_MAX + 1];
	size_t queries;
};

static int auth_cmd_usage(void)
{
	fputs(AUTH_CMD_USAGE, stderr);
	return EX_USAGE;
}

static void auth_cmd_spf_cb(void *arg, const struct spf_check_result *r)
{
	struct auth_cmd_spf *st = arg;
	st->done = true;
	st->result = r->result;
	snprintf(st->explanation, sizeof st->explanation, "%s", r->explanation ? r->explanation : "");
	snprintf(st->reason, sizeof st->reason, "%s", r->reason ? r->reason : "");
	st->queries = r->queries;
	io_loop_exit(st->loop);
}

/* "<a@b>" -> "a@b", "<>" -> "": what an SMTP MAIL FROM path holds. */
int auth_cmd_env_open(const char *face, const char *conf_path, const char *dns_arg, struct auth_cmd_env *e)
{
	memset(e, 0, sizeof *e);
	bool must_exist = false;
	const char *path = conf_choose_path(conf_path, &must_exist);
	char err[1024];
	if (conf_load_chosen(path, CONF_LOAD_NO_USERS, &e->c, err, sizeof err) < 0) {
		fprintf(stderr, "%s: %s\n", face, err);
		return EX_CONFIG;
	}
	e->have_conf = true;
	if ((e->loop = io_loop_new()) == NULL) {
		fprintf(stderr, "%s: cannot start the event loop\n", face);
		return EX_OSERR;
	}
	e->dns = io_dns_new(e->loop, dns_arg ? dns_arg : e->c.dns, err, sizeof err);
	if (e->dns == NULL) {
		fprintf(stderr, "%s: %s\n", face, err);
		return dns_arg ? EX_USAGE : EX_CONFIG;
	}
	return EX_OK;
}

void auth_cmd_env_close(struct auth_cmd_env *e)
{
	io_dns_free(e->dns);
	io_loop_free(e->loop);
	if (e->have_conf)
		conf_free(&e->c);
	memset(e, 0, sizeof *e);
}

void auth_cmd_strip_brackets(const char *in, char *out, size_t cap)
{
	size_t n = strlen(in);
	if (n >= 2 && in[0] == '<' && in[n - 1] == '>') {
		in++;
		n -= 2;
	}
	if (n >= cap)
		n = cap - 1;
	memcpy(out, in, n);
	out[n] = '\0';
}

static int auth_cmd_spf(int argc, char **argv)
{
	const char *conf_path = NULL, *dns_arg = NULL, *pos[3];
	size_t npos = 0;
	bool verbose = false, opts = true;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (opts && strcmp(a, "--") == 0) {
			opts = false;
		} else if (opts && (strcmp(a, "-c") == 0 || strcmp(a, "--dns") == 0)) {
			if (++i >= argc) {
				fprintf(stderr, "tern auth spf: %s needs an argument\n", a);
				return auth_cmd_usage();
			}
			if (a[1] == 'c')
				conf_path = argv[i];
			else
				dns_arg = argv[i];
		} else if (opts && strncmp(a, "--dns=", 6) == 0) {
			dns_arg = a + 6;
		} else if (opts && strncmp(a, "-c", 2) == 0 && a[2] != '\0') {
			conf_path = a + 2;
		} else if (opts && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
			fputs(AUTH_CMD_USAGE, stdout);
			return EX_OK;
		} else if (opts && strcmp(a, "-v") == 0) {
			verbose = true;
		} else if (opts && a[0] == '-' && a[1] != '\0') {
			fprintf(stderr, "tern auth spf: unknown option '%s'\n", a);
			return auth_cmd_usage();
		} else if (npos < 3) {
			pos[npos++] = a;
		} else {
			return auth_cmd_usage();
		}
	}
	if (npos < 2)
		return auth_cmd_usage();

	struct spf_request req = {.now = (int64_t)time(NULL)};
	if (spf_ip_parse(pos[0], &req.ip) < 0) {
		fprintf(stderr, "tern auth spf: '%s' is not an IPv4 or IPv6 address\n", pos[0]);
		return EX_USAGE;
	}
	char from[AUTH_CMD_ARG_MAX];
	if (strlen(pos[1]) >= sizeof from || (npos > 2 && strlen(pos[2]) >= AUTH_CMD_ARG_MAX)) {
		fputs("tern auth spf: MAIL-FROM or HELO too long\n", stderr);
		return EX_USAGE;
	}
	auth_cmd_strip_brackets(pos[1], from, sizeof from);
	req.mail_from = from;
	req.helo = npos > 2 && pos[2][0] ? pos[2] : NULL;
	if (from[0] == '\0' && req.helo == NULL) {
		fputs("tern auth spf: an empty MAIL-FROM checks the HELO name: give HELO\n", stderr);
		return EX_USAGE;
	}

	struct auth_cmd_env e;
	int rc = auth_cmd_env_open("tern auth spf", conf_path, dns_arg, &e);
	if (rc != EX_OK)
		goto out;
	req.receiver = e.c.hostname;
	rc = EX_OSERR;
	struct auth_cmd_spf st = {.loop = e.loop};
	if (spf_check_start(st.loop, e.dns, &req, 0, auth_cmd_spf_cb, &st) == NULL) {
		fputs("tern auth spf: out of memory\n", stderr);
		goto out;
	}
	io_loop_run(st.loop);
	if (!st.done) {
		fputs("tern auth spf: the check did not finish\n", stderr);
		rc = EX_SOFTWARE;
		goto out;
	}
	printf("%s\n", spf_result_name(st.result));
	if (st.result == SPF_RESULT_FAIL)
		printf("%s\n", st.explanation);
	if (verbose)
		fprintf(stderr, "reason: %s; %zu DNS questions\n", st.reason, st.queries);
	rc = fflush(stdout) == 0 ? EX_OK : EX_IOERR;
out:
	auth_cmd_env_close(&e);
	return rc;
}

int cmd_auth(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "spf") == 0)
		return auth_cmd_spf(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "check") == 0)
		return auth_cmd_check(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		fputs(AUTH_CMD_USAGE, stdout);
		return EX_OK;
	}
	if (argc >= 2)
		fprintf(stderr, "tern auth: unknown sub-command '%s'\n", argv[1]);
	return auth_cmd_usage();
}
