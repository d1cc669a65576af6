/*
 * dkim_cmd — `tern dkim` (CONTRACT.md, docs/tern-dkim.1): dispatch to
 * its subcommands, and `tern dkim keygen DOMAIN [--selector NAME]
 * [--algorithm rsa|ed25519] [--bits N] [--out FILE]`, which writes a new
 * private key and prints the TXT record to publish for it.
 *
 * The key file is written the safe way (STYLE.md principle 9): a
 * temporary file in the same directory, created exclusively with mode
 * 0600 and without following a symbolic link, fsync'ed, then given its
 * name without ever replacing an existing file (renameat2 with
 * RENAME_NOREPLACE, or link(2) where the file system lacks it), then
 * the directory fsync'ed. The key's text is wiped from memory after.
 *
 * Exit: 0; 64 usage; 73 the key file exists or cannot be made; 70 the
 * key could not be generated; 74 an output error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fsutil.h"
#include "cmd/cmd.h"
#include "cmd/dkim_cmd.h"
#include "crypto/dkim_pkey.h"
#include "proto/dkim_tag.h"

/* A TXT record's character-strings hold at most 255 octets each (RFC
 * 1035 3.3); a longer record is several strings, joined by the
 * verifier (RFC 6376 3.6.2.2). */
#define DKIM_CMD_TXT_STRING 255

static int dkim_cmd_usage(FILE *f, int status)
{
	fputs("usage: tern dkim keygen DOMAIN [--selector NAME] [--algorithm rsa|ed25519] [--bits N] [--out FILE]\n"
	      "       tern dkim sign --key FILE --domain DOMAIN --selector NAME < message\n"
	      "       tern dkim verify --key-record TEXT [--key-record TEXT]... [--now SECONDS] < message\n",
	      f);
	return status;
}

int cmd_dkim(int argc, char **argv)
{
	if (argc < 2)
		return dkim_cmd_usage(stderr, EX_USAGE);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		return dkim_cmd_usage(stdout, 0);
	if (strcmp(argv[1], "keygen") == 0)
		return dkim_cmd_keygen(argc - 1, argv + 1);
	if (strcmp(argv[1], "sign") == 0)
		return dkim_cmd_sign(argc - 1, argv + 1);
	if (strcmp(argv[1], "verify") == 0)
		return dkim_cmd_verify(argc - 1, argv + 1);
	fprintf(stderr, "tern dkim: unknown command '%s'\n", argv[1]);
	return dkim_cmd_usage(stderr, EX_USAGE);
}

int dkim_cmd_read_stdin(const char *face, char **out, size_t *len)
{
	struct buf b;
	buf_init(&b, DKIM_CMD_MESSAGE_MAX);
	char chunk[65536];
	for (;;) {
		ssize_t n = read(STDIN_FILENO, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "tern dkim %s: reading the message: %s\n", face, strerror(errno));
			buf_free(&b);
			return -1;
		}
		if (n == 0)
			break;
		if (buf_append(&b, chunk, (size_t)n) < 0) {
			fprintf(stderr, "tern dkim %s: message larger than %d octets\n", face, DKIM_CMD_MESSAGE_MAX);
			buf_free(&b);
			return -1;
		}
	}
	if (b.data == NULL && buf_append(&b, "", 0) < 0) {
		fprintf(stderr, "tern dkim %s: out of memory\n", face);
		return -1;
	}
	*out = b.data;
	*len = b.len;
	return 0;
}

/* The default selector: the algorithm and today's date (UTC), e.g.
 * "rsa-20261128". Two keys of a domain (RSA and Ed25519, as tern setup
 * makes them) get two names, and a key made later for a rollover gets
 * a new name while the old record stays published for mail in transit. */
static void dkim_cmd_default_selector(const char *alg, char *out, size_t outlen)
{
	time_t now = time(NULL);
	struct tm tm;
	char day[16] = "00000000";
	if (gmtime_r(&now, &tm) != NULL)
		strftime(day, sizeof day, "%Y%m%d", &tm);
	snprintf(out, outlen, "%s-%s", alg, day);
}

/*
 * Write n octets of key to path, mode 0600, never replacing a file.
 * 0, or -1 with errno (EEXIST when path exists).
 */
static int dkim_cmd_write_key(const char *path, const char *key, size_t n)
{
	struct buf tmp;
	buf_init(&tmp, 4096);
	if (buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = open(tmp.data, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		buf_free(&tmp);
		return -1;
	}
	int rc = -1, saved = 0;
	/* fchmod: the umask may only have narrowed 0600, but say it exactly */
	if (fchmod(fd, 0600) == 0 && fsutil_write_all(fd, key, n) == 0 && fsutil_fsync(fd) == 0)
		rc = 0;
	saved = errno;
	if (close(fd) < 0 && rc == 0) {
		rc = -1;
		saved = errno;
	}
	if (rc == 0) {
		rc = renameat2(AT_FDCWD, tmp.data, AT_FDCWD, path, RENAME_NOREPLACE);
		if (rc < 0 && (errno == EINVAL || errno == ENOSYS)) {
			/* no RENAME_NOREPLACE here: link(2) refuses an existing name too */
			rc = link(tmp.data, path);
		}
		saved = errno;
	}
	unlink(tmp.data); /* after a rename it is gone already; after link it is the second name */
	if (rc == 0 && fsutil_fsync_parent(path) < 0) {
		rc = -1;
		saved = errno;
	}
	buf_free(&tmp);
	errno = saved;
	return rc;
}

/* Print the record as one zone-file line, in strings of at most 255. */
static int dkim_cmd_print_record(const char *selector, const char *domain, const char *rec, size_t n)
{
	printf("%s._domainkey.%s. IN TXT", selector, domain);
	for (size_t i = 0; i < n; i += DKIM_CMD_TXT_STRING) {
		size_t k = n - i < DKIM_CMD_TXT_STRING ? n - i : DKIM_CMD_TXT_STRING;
		printf(" \"%.*s\"", (int)k, rec + i);
	}
	putchar('\n');
	return fflush(stdout) == 0 && !ferror(stdout) ? 0 : -1;
}

int dkim_cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"selector", required_argument, NULL, 's'}, {"algorithm", required_argument, NULL, 'a'},
	        {"bits", required_argument, NULL, 'b'},     {"out", required_argument, NULL, 'o'},
	        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
	};
	const char *selector = NULL, *alg = "rsa", *out = NULL, *bits_arg = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "s:a:b:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': selector = optarg; break;
		case 'a': alg = optarg; break;
		case 'b': bits_arg = optarg; break;
		case 'o': out = optarg; break;
		case 'h': return dkim_cmd_usage(stdout, 0);
		default: return dkim_cmd_usage(stderr, EX_USAGE);
		}
	}
	if (optind + 1 != argc)
		return dkim_cmd_usage(stderr, EX_USAGE);
	char domain[DKIM_DOMAIN_MAX + 2];
	size_t dl = strlen(argv[optind]);
	if (dl > 0 && argv[optind][dl - 1] == '.')
		dl--; /* "example.org." names the same domain */
	if (dl >= sizeof domain || !dkim_tag_is_domain(argv[optind], dl, DKIM_DOMAIN_MAX)) {
		fprintf(stderr, "tern dkim keygen: '%s' is not a domain name\n", argv[optind]);
		return EX_USAGE;
	}
	memcpy(domain, argv[optind], dl);
	domain[dl] = '\0';

	enum dkim_key_type type;
	unsigned bits = 2048;
	if (strcmp(alg, "rsa") == 0) {
		type = DKIM_KEY_RSA;
	} else if (strcmp(alg, "ed25519") == 0) {
		type = DKIM_KEY_ED25519;
	} else {
		fprintf(stderr, "tern dkim keygen: unknown algorithm '%s' (rsa or ed25519)\n", alg);
		return EX_USAGE;
	}
	if (bits_arg != NULL) {
		char *end;
		errno = 0;
		unsigned long v = strtoul(bits_arg, &end, 10);
		if (type != DKIM_KEY_RSA) {
			fprintf(stderr, "tern dkim keygen: --bits is for rsa keys only\n");
			return EX_USAGE;
		}
		if (errno || *end || end == bits_arg || v < DKIM_RSA_SIGN_MIN || v > DKIM_RSA_SIGN_MAX) {
			fprintf(stderr, "tern dkim keygen: --bits must be %d to %d\n", DKIM_RSA_SIGN_MIN,
			        DKIM_RSA_SIGN_MAX);
			return EX_USAGE;
		}
		bits = (unsigned)v;
	}
	char sel[64];
	if (selector == NULL) {
		dkim_cmd_default_selector(alg, sel, sizeof sel);
		selector = sel;
	}
	if (!dkim_tag_is_domain(selector, strlen(selector), DKIM_SELECTOR_MAX) ||
	    strlen(selector) + strlen("._domainkey.") + dl > DKIM_DOMAIN_MAX) {
		fprintf(stderr, "tern dkim keygen: '%s' is not a valid selector\n", selector);
		return EX_USAGE;
	}
	struct buf path;
	buf_init(&path, 4096);
	if (out == NULL ? buf_printf(&path, "%s.%s.pem", domain, selector) : buf_puts(&path, out)) {
		fprintf(stderr, "tern dkim keygen: file name too long\n");
		return EX_USAGE;
	}
	/* refuse early, before spending a second on an RSA key */
	struct stat st;
	if (lstat(path.data, &st) == 0) {
		fprintf(stderr, "tern dkim keygen: %s exists; not replacing it\n", path.data);
		buf_free(&path);
		return EX_CANTCREAT;
	}

	struct dkim_pkey *key = dkim_pkey_generate(type, bits);
	struct buf pem, rec;
	buf_init(&pem, DKIM_PKEY_FILE_MAX);
	buf_init(&rec, DKIM_KEY_RECORD_MAX);
	int status = 0;
	if (key == NULL || dkim_pkey_private_pem(key, &pem) < 0 ||
	    buf_printf(&rec, "v=DKIM1; k=%s; p=", type == DKIM_KEY_RSA ? "rsa" : "ed25519") < 0 ||
	    dkim_pkey_public_b64(key, &rec) < 0) {
		fprintf(stderr, "tern dkim keygen: could not generate the key\n");
		status = EX_SOFTWARE;
	} else if (dkim_cmd_write_key(path.data, pem.data, pem.len) < 0) {
		fprintf(stderr, "tern dkim keygen: %s: %s\n", path.data,
		        errno == EEXIST ? "exists; not replacing it" : strerror(errno));
		status = EX_CANTCREAT;
	} else if (dkim_cmd_print_record(selector, domain, rec.data, rec.len) < 0) {
		fprintf(stderr, "tern dkim keygen: writing the record: %s\n", strerror(errno));
		status = EX_IOERR;
	} else {
		fprintf(stderr, "tern dkim keygen: wrote the private key to %s\n", path.data);
	}
	if (pem.data)
		explicit_bzero(pem.data, pem.cap);
	buf_free(&pem);
	buf_free(&rec);
	buf_free(&path);
	dkim_pkey_free(key);
	return status;
}
