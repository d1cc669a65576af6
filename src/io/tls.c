/*
 * tls — the server-side TLS context (RFC 8314 and RFC 3207 use it alike).
 * TLS 1.2 and 1.3 only, forward-secret AEAD ciphers for 1.2, server
 * cipher preference, no renegotiation, no compression. When no
 * certificate is configured, an ECDSA P-256 self-signed pair for the
 * hostname is created on first start in DATA_DIR/tls/ (0600).
 */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Write a self-signed certificate and key for hostname. */
static int io_tls_make_selfsigned(const char *cert, const char *key, const char *hostname, char *err,
                                  size_t errlen)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	FILE *f = NULL;
	int rc = -1;
	if (pk == NULL || x == NULL) {
		io_tls_errstr(err, errlen, "cannot generate key", key);
		goto out;
	}
	X509_set_version(x, 2);
	unsigned char serial[16];
	FILE *ur = fopen("/dev/urandom", "rb");
	if (ur == NULL || fread(serial, 1, sizeof serial, ur) != sizeof serial) {
		if (ur)
			fclose(ur);
		snprintf(err, errlen, "/dev/urandom: cannot read");
		goto out;
	}
	fclose(ur);
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
	mode_t old = umask(077);
	f = fopen(key, "w");
	umask(old);
	if (f == NULL || !PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) || fclose(f) != 0) {
		f = NULL;
		io_tls_errstr(err, errlen, "cannot write", key);
		goto out;
	}
	f = fopen(cert, "w");
	if (f == NULL || !PEM_write_X509(f, x) || fclose(f) != 0) {
		f = NULL;
		io_tls_errstr(err, errlen, "cannot write", cert);
		goto out;
	}
	f = NULL;
	log_msg("tls: made a self-signed certificate for %s in %s", hostname, cert);
	rc = 0;
out:
	if (f)
		fclose(f);
	X509_free(x);
	EVP_PKEY_free(pk);
	return rc;
}

struct io_tls *io_tls_new(const char *cert, const char *key, const char *data_dir, const char *hostname,
                          char *err, size_t errlen)
{
	char cbuf[4200], kbuf[4200];
	if (cert == NULL || key == NULL) {
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
		if ((access(cert, R_OK) < 0 || access(key, R_OK) < 0) &&
		    io_tls_make_selfsigned(cert, key, hostname, err, errlen) < 0)
			return NULL;
	}
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
