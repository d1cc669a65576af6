/*
 * dkim_cmd_debug — `tern dkim sign` and `tern dkim verify`, debugging
 * aids (docs/tern-dkim.1) that run tern's own signer and verifier on a
 * message from standard input, as the server would, without DNS: the
 * interoperability tests drive them against dkimpy.
 *
 * sign: --key FILE --domain DOMAIN --selector NAME [--time SECONDS];
 * prints the message with its DKIM-Signature field on top, with the
 * line ends of the message's first line. Exit 0; 64 usage; 65 the
 * message cannot be signed (no From:, header too large); 66 the key
 * cannot be loaded; 74 an I/O error.
 *
 * verify: --key-record TEXT (repeatable) [--now SECONDS]; prints one
 * line per signature, "dkim=RESULT header.d=D header.s=S header.a=ALG
 * (reason)". With one record it serves every signature; with several,
 * each signature takes the first whose k= suits its a=. Exit 0 when
 * there are signatures and all pass, 1 otherwise, 64 usage, 74 I/O.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "base/buf.h"
#include "cmd/dkim_cmd.h"
#include "crypto/dkim_pkey.h"
#include "crypto/dkim_sign.h"
#include "crypto/dkim_verify.h"
#include "proto/dkim_key.h"

#define DKIM_CMD_RECORDS_MAX 8

static bool dkim_cmd_number(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < 0)
		return false;
	*out = v;
	return true;
}

int dkim_cmd_sign(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"key", required_argument, NULL, 'k'},      {"domain", required_argument, NULL, 'd'},
	        {"selector", required_argument, NULL, 's'}, {"time", required_argument, NULL, 't'},
	        {NULL, 0, NULL, 0},
	};
	const char *keyfile = NULL, *domain = NULL, *selector = NULL;
	int64_t now = (int64_t)time(NULL);
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "k:d:s:t:", opts, NULL)) != -1) {
		switch (c) {
		case 'k': keyfile = optarg; break;
		case 'd': domain = optarg; break;
		case 's': selector = optarg; break;
		case 't':
			if (!dkim_cmd_number(optarg, &now)) {
				fprintf(stderr, "tern dkim sign: bad --time '%s'\n", optarg);
				return EX_USAGE;
			}
			break;
		default: goto usage;
		}
	}
	if (optind != argc || keyfile == NULL || domain == NULL || selector == NULL)
		goto usage;

	char err[512];
	struct dkim_pkey *key;
	if (dkim_pkey_load(keyfile, &key, err, sizeof err) < 0) {
		fprintf(stderr, "tern dkim sign: %s\n", err);
		return EX_NOINPUT;
	}
	struct dkim_sign_key k = {.domain = domain, .selector = selector, .key = key};
	struct dkim_sign *s = dkim_sign_new(&k, 1, now);
	if (s == NULL) {
		fprintf(stderr, "tern dkim sign: bad domain or selector\n");
		dkim_pkey_free(key);
		return EX_USAGE;
	}
	char *msg;
	size_t len;
	if (dkim_cmd_read_stdin("sign", &msg, &len) < 0) {
		dkim_sign_free(s);
		dkim_pkey_free(key);
		return EX_IOERR;
	}
	dkim_sign_feed(s, msg, len);
	const char *nl = memchr(msg, '\n', len);
	const char *eol = nl && nl > msg && nl[-1] == '\r' ? "\r\n" : "\n";
	struct buf out;
	buf_init(&out, DKIM_SIGN_KEYS_MAX * DKIM_FIELD_MAX);
	int status = 0;
	if (dkim_sign_finish(s, eol, &out, err, sizeof err) < 0) {
		fprintf(stderr, "tern dkim sign: %s\n", err);
		status = EX_DATAERR;
	} else if (fwrite(out.data, 1, out.len, stdout) != out.len || fwrite(msg, 1, len, stdout) != len ||
	           fflush(stdout) != 0) {
		fprintf(stderr, "tern dkim sign: writing: %s\n", strerror(errno));
		status = EX_IOERR;
	}
	buf_free(&out);
	free(msg);
	dkim_sign_free(s);
	dkim_pkey_free(key);
	return status;
usage:
	fputs("usage: tern dkim sign --key FILE --domain DOMAIN --selector NAME [--time SECONDS] < message\n", stderr);
	return EX_USAGE;
}

/* The record for a signature: the only one, or the first whose key type
 * fits the algorithm. */
static const char *dkim_cmd_pick(char *const *recs, size_t n, enum dkim_alg alg)
{
	if (n == 1)
		return recs[0];
	enum dkim_key_type want = alg == DKIM_ALG_ED25519_SHA256 ? DKIM_KEY_ED25519 : DKIM_KEY_RSA;
	for (size_t i = 0; i < n; i++) {
		struct dkim_key *k = malloc(sizeof *k);
		if (k == NULL)
			return NULL;
		enum dkim_reason r = dkim_key_parse(recs[i], strlen(recs[i]), k);
		bool fits = (r == DKIM_OK || r == DKIM_KEY_REVOKED) && k->type == want;
		free(k);
		if (fits)
			return recs[i];
	}
	return NULL;
}

int dkim_cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"key-record", required_argument, NULL, 'r'},
	        {"now", required_argument, NULL, 'n'},
	        {NULL, 0, NULL, 0},
	};
	char *recs[DKIM_CMD_RECORDS_MAX];
	size_t nrecs = 0;
	int64_t now = (int64_t)time(NULL);
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "r:n:", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (nrecs == DKIM_CMD_RECORDS_MAX) {
				fprintf(stderr, "tern dkim verify: at most %d key records\n", DKIM_CMD_RECORDS_MAX);
				return EX_USAGE;
			}
			recs[nrecs++] = optarg;
			break;
		case 'n':
			if (!dkim_cmd_number(optarg, &now)) {
				fprintf(stderr, "tern dkim verify: bad --now '%s'\n", optarg);
				return EX_USAGE;
			}
			break;
		default: goto usage;
		}
	}
	if (optind != argc || nrecs == 0)
		goto usage;

	struct dkim_verify *v = dkim_verify_new();
	char *msg;
	size_t len;
	if (v == NULL || dkim_cmd_read_stdin("verify", &msg, &len) < 0) {
		dkim_verify_free(v);
		return EX_IOERR;
	}
	dkim_verify_feed(v, msg, len);
	free(msg);
	dkim_verify_finish(v);
	int status = 0;
	if (dkim_verify_too_large(v)) {
		printf("dkim=permerror (%s)\n", dkim_reason_text(DKIM_HEADER_TOO_LARGE));
		status = 1;
	} else if (dkim_verify_count(v) == 0) {
		printf("dkim=none\n");
		status = 1;
	}
	for (size_t i = 0; i < dkim_verify_count(v); i++) {
		const struct dkim_sig *sig = dkim_verify_sig(v, i, NULL);
		const char *rec = dkim_cmd_pick(recs, nrecs, sig->alg);
		struct dkim_verify_result res;
		dkim_verify_check(v, i, rec, rec ? strlen(rec) : 0, now, &res);
		printf("dkim=%s header.d=%s header.s=%s header.a=%s (%s", dkim_result_name(res.result),
		       res.d[0] ? res.d : "-", res.s[0] ? res.s : "-", dkim_alg_name(res.alg),
		       dkim_reason_text(res.reason));
		if (res.key_bits)
			printf("; %u-bit key", res.key_bits);
		if (res.testing)
			printf("; testing");
		if (res.unsigned_octets)
			printf("; %llu octets unsigned", (unsigned long long)res.unsigned_octets);
		printf(")\n");
		if (res.result != DKIM_RESULT_PASS)
			status = 1;
	}
	dkim_verify_free(v);
	if (fflush(stdout) != 0)
		return EX_IOERR;
	return status;
usage:
	fputs("usage: tern dkim verify --key-record TEXT [--key-record TEXT]... [--now SECONDS] < message\n", stderr);
	return EX_USAGE;
}
