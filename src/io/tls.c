/*
 * tls — the server-side TLS context (RFC 8314 and RFC 3207 use it alike).
 * TLS 1.2 and 1.3 only, forward-secret AEAD ciphers for 1.2, server
 * cipher preference, no renegotiation, no compression. When no
 * certificate is configured, an ECDSA P-256 self-signed pair for the
 * hostname is created on first start in DATA_DIR/tls/ (0600).
 */
#include <errno.h>
#include <stdbool.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/log.h"
#include "io/io_internal.h"

struct io_tls {
	SSL_CTX *ctx;
};

static void io_tls_errstr(char *err, size_t errlen, const char *what, const char *path)
{
	unsigned long e = ERR_get_error();
	char es[256];
	ERR_error_string_n(e, es, sizeof es);
	snprintf(err, errlen, "%s: %s: %s", path ? path : "tls", what, e ? es : strerror(errno));
	ERR_clear_error();
}

/*
 * Write one PEM file the durable way (base/fsutil.h's recipe) without
 * ever following a link: a new file under a random name (mkstemp: O_EXCL,
 * mode 0600), written, flushed, renamed over `path` (rename replaces a
 * link rather than writing through it), then the directory is flushed.
 * A crash leaves the old file, or the new one, never a torn one.
 */
static int io_tls_write_pem(const char *path, mode_t mode, int (*put)(FILE *f, void *obj), void *obj, char *err,
                            size_t errlen)
{
	char tmp[4200];
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= sizeof tmp) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	int fd = mkstemp(tmp);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
		return -1;
	}
	FILE *f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		unlink(tmp);
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	errno = 0;
	bool ok = fchmod(fd, mode) == 0 && put(f, obj) && fflush(f) == 0 && fsutil_fsync(fd) == 0;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) < 0 || fsutil_fsync_parent(path) < 0) {
		int e = errno ? errno : EIO;
		unlink(tmp);
		ERR_clear_error();
		snprintf(err, errlen, "%s: cannot write: %s", path, strerror(e));
		return -1;
	}
	return 0;
}

static int io_tls_put_key(FILE *f, void *obj)
{
	return PEM_write_PrivateKey(f, obj, NULL, NULL, 0, NULL, NULL);
}

static int io_tls_put_cert(FILE *f, void *obj)
{
	return PEM_write_X509(f, obj);
}

/* Write a self-signed certificate and key for hostname: the key first, so
 * that a crash in between leaves a key without a matching certificate,
 * which the next start replaces (io_tls_new). */
static int io_tls_make_selfsigned(const char *cert, const char *key, const char *hostname, char *err,
                                  size_t errlen)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	int rc = -1;
	if (pk == NULL || x == NULL) {
		io_tls_errstr(err, errlen, "cannot generate key", key);
		goto out;
	}
	X509_set_version(x, 2);
	unsigned char serial[16];
	if (RAND_bytes(serial, sizeof serial) != 1) {
		io_tls_errstr(err, errlen, "cannot draw a serial number", cert);
		goto out;
	}
	serial[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	BN_free(bn);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400);
	X509_set_pubkey(x, pk);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)hostname, -1, -1, 0);
	X509_set_issuer_name(x, name);
	char san[300];
	snprintf(san, sizeof san, "DNS:%s", hostname);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
	if (ext) {
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if (X509_sign(x, pk, EVP_sha256()) == 0) {
		io_tls_errstr(err, errlen, "cannot sign", cert);
		goto out;
	}
	if (io_tls_write_pem(key, 0600, io_tls_put_key, pk, err, errlen) < 0 ||
	    io_tls_write_pem(cert, 0644, io_tls_put_cert, x, err, errlen) < 0)
		goto out;
	log_msg("tls: made a self-signed certificate for %s in %s", hostname, cert);
	rc = 0;
out:
	X509_free(x);
	EVP_PKEY_free(pk);
	return rc;
}

/* A server context for this pair; NULL with err set. */
static SSL_CTX *io_tls_ctx_load(const char *cert, const char *key, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		io_tls_errstr(err, errlen, "cannot create context", NULL);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20");
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		io_tls_errstr(err, errlen, "cannot load certificate chain", cert);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		io_tls_errstr(err, errlen, "cannot load private key", key);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

struct io_tls *io_tls_new(const char *cert, const char *key, const char *data_dir, const char *hostname,
                          char *err, size_t errlen)
{
	char cbuf[4200], kbuf[4200];
	SSL_CTX *ctx;
	if (cert && key) {
		ctx = io_tls_ctx_load(cert, key, err, errlen);
	} else {
		char dir[4096];
		if ((size_t)snprintf(dir, sizeof dir, "%s/tls", data_dir) >= sizeof dir) {
			snprintf(err, errlen, "data-dir path too long");
			return NULL;
		}
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "%s: %s", dir, strerror(errno));
			return NULL;
		}
		snprintf(cbuf, sizeof cbuf, "%s/cert.pem", dir);
		snprintf(kbuf, sizeof kbuf, "%s/key.pem", dir);
		cert = cbuf;
		key = kbuf;
		struct stat st;
		bool have = lstat(cert, &st) == 0 && lstat(key, &st) == 0;
		ctx = have ? io_tls_ctx_load(cert, key, err, errlen) : NULL;
		if (ctx == NULL) {
			/* Our own pair is missing, torn or mismatched (a crash
			 * between the two files): make a new one. */
			if (have)
				log_msg("tls: the self-signed pair in %s is unusable (%s); making a new one", dir, err);
			if (io_tls_make_selfsigned(cert, key, hostname, err, errlen) < 0)
				return NULL;
			ctx = io_tls_ctx_load(cert, key, err, errlen);
		}
	}
	if (ctx == NULL)
		return NULL;
	struct io_tls *t = calloc(1, sizeof *t);
	if (t == NULL) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	t->ctx = ctx;
	return t;
}

struct io_tls *io_tls_client_opportunistic(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	/* RFC 7435: unauthenticated encryption beats none; MX certificates
	 * are not verified (there is no policy saying what to expect). */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	struct io_tls *t = calloc(1, sizeof *t);
	if (t == NULL) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	t->ctx = ctx;
	return t;
}

void io_tls_free(struct io_tls *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

SSL *io_tls_new_ssl(struct io_tls *t)
{
	return SSL_new(t->ctx);
}
