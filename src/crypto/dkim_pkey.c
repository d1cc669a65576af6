/*
 * dkim_pkey — DKIM keys over OpenSSL 3. See dkim_pkey.h.
 *
 * Owns one EVP_PKEY per object. Private key text read from a file is
 * wiped as soon as OpenSSL has decoded it.
 */
#include "crypto/dkim_pkey.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base64.h"
#include "base/fsutil.h"

struct dkim_pkey {
	EVP_PKEY *pkey; /* owned */
	enum dkim_key_type type;
	unsigned bits;
};

static struct dkim_pkey *dkim_pkey_wrap(EVP_PKEY *pkey)
{
	struct dkim_pkey *k = calloc(1, sizeof *k);
	if (k == NULL) {
		EVP_PKEY_free(pkey);
		return NULL;
	}
	k->pkey = pkey;
	k->type = EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519 ? DKIM_KEY_ED25519 : DKIM_KEY_RSA;
	k->bits = (unsigned)EVP_PKEY_get_bits(pkey);
	return k;
}

void dkim_pkey_free(struct dkim_pkey *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

enum dkim_key_type dkim_pkey_type(const struct dkim_pkey *k)
{
	return k->type;
}

unsigned dkim_pkey_bits(const struct dkim_pkey *k)
{
	return k->bits;
}

/* An encrypted key would make OpenSSL ask for a passphrase: refuse. */
static int dkim_pkey_no_pass_cb(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

int dkim_pkey_from_pem(const char *pem, size_t n, struct dkim_pkey **out, char *err, size_t errlen)
{
	*out = NULL;
	if (n > DKIM_PKEY_FILE_MAX) {
		snprintf(err, errlen, "key too large");
		return -1;
	}
	BIO *bio = BIO_new_mem_buf(pem, (int)n);
	if (bio == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, dkim_pkey_no_pass_cb, NULL);
	BIO_free(bio);
	if (pkey == NULL) {
		snprintf(err, errlen, "not an unencrypted PEM private key");
		return -1;
	}
	int id = EVP_PKEY_get_base_id(pkey);
	if (id != EVP_PKEY_RSA && id != EVP_PKEY_ED25519) {
		EVP_PKEY_free(pkey);
		snprintf(err, errlen, "neither an RSA nor an Ed25519 key");
		return -1;
	}
	struct dkim_pkey *k = dkim_pkey_wrap(pkey);
	if (k == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (k->type == DKIM_KEY_RSA && (k->bits < DKIM_RSA_SIGN_MIN || k->bits > DKIM_RSA_SIGN_MAX)) {
		snprintf(err, errlen, "RSA key of %u bits; signing keys must have %d to %d bits", k->bits,
		         DKIM_RSA_SIGN_MIN, DKIM_RSA_SIGN_MAX);
		dkim_pkey_free(k);
		return -1;
	}
	*out = k;
	return 0;
}

int dkim_pkey_load(const char *path, struct dkim_pkey **out, char *err, size_t errlen)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	const char *why = fsutil_secret_file_problem(fd, S_IROTH | S_IWGRP | S_IWOTH, &st);
	if (why == NULL && st.st_size > DKIM_PKEY_FILE_MAX)
		why = "too large for a key";
	if (why) {
		close(fd);
		snprintf(err, errlen, "%s: %s", path, why);
		return -1;
	}
	char *pem = malloc(DKIM_PKEY_FILE_MAX + 1);
	if (pem == NULL) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	ssize_t got = fsutil_read_all(fd, pem, DKIM_PKEY_FILE_MAX + 1);
	int saved = errno;
	close(fd);
	int rc = -1;
	char why2[160];
	if (got < 0)
		snprintf(err, errlen, "%s: %s", path, strerror(saved));
	else if (got > DKIM_PKEY_FILE_MAX)
		snprintf(err, errlen, "%s: too large for a key", path);
	else if (dkim_pkey_from_pem(pem, (size_t)got, out, why2, sizeof why2) < 0)
		snprintf(err, errlen, "%s: %s", path, why2);
	else
		rc = 0;
	explicit_bzero(pem, DKIM_PKEY_FILE_MAX + 1);
	free(pem);
	return rc;
}

enum dkim_reason dkim_pkey_from_record(const struct dkim_key *rec, struct dkim_pkey **out)
{
	*out = NULL;
	EVP_PKEY *pkey = NULL;
	if (rec->type == DKIM_KEY_ED25519) {
		/* RFC 8463 4: p= is the plain 32-octet key, no ASN.1 around it */
		if (rec->plen != 32)
			return DKIM_KEY_BAD;
		pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, rec->p, rec->plen);
		if (pkey == NULL)
			return DKIM_KEY_BAD;
	} else {
		/* RFC 6376 3.6.1 asks for a SubjectPublicKeyInfo; some publish the
		 * bare RSAPublicKey, which is taken too. All the DER must be used. */
		const unsigned char *p = rec->p;
		pkey = d2i_PUBKEY(NULL, &p, (long)rec->plen);
		if (pkey != NULL && (p != rec->p + rec->plen || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA)) {
			EVP_PKEY_free(pkey);
			return DKIM_KEY_BAD;
		}
		if (pkey == NULL) {
			p = rec->p;
			pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)rec->plen);
			if (pkey == NULL)
				return DKIM_KEY_BAD;
			if (p != rec->p + rec->plen) {
				EVP_PKEY_free(pkey);
				return DKIM_KEY_BAD;
			}
		}
	}
	struct dkim_pkey *k = dkim_pkey_wrap(pkey);
	if (k == NULL)
		return DKIM_INTERNAL;
	if (k->type == DKIM_KEY_RSA && k->bits < DKIM_RSA_VERIFY_MIN) {
		dkim_pkey_free(k);
		return DKIM_KEY_TOO_SHORT;
	}
	if (k->type == DKIM_KEY_RSA && k->bits > DKIM_RSA_VERIFY_MAX) {
		dkim_pkey_free(k);
		return DKIM_KEY_TOO_LONG;
	}
	*out = k;
	return DKIM_OK;
}

/* An RSA context for PKCS#1 v1.5 over a SHA-256 DigestInfo (RFC 8017
 * 8.2), which is what rsa-sha256 means (RFC 6376 3.3.1). */
static EVP_PKEY_CTX *dkim_pkey_rsa_ctx(EVP_PKEY *pkey, int sign)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);
	if (ctx == NULL)
		return NULL;
	if ((sign ? EVP_PKEY_sign_init(ctx) : EVP_PKEY_verify_init(ctx)) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) != 1) {
		EVP_PKEY_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int dkim_pkey_sign(const struct dkim_pkey *k, const unsigned char digest[DKIM_HASH_LEN], unsigned char *sig,
                   size_t *siglen)
{
	int rc = -1;
	if (k->type == DKIM_KEY_RSA) {
		EVP_PKEY_CTX *ctx = dkim_pkey_rsa_ctx(k->pkey, 1);
		size_t need = 0;
		if (ctx && EVP_PKEY_sign(ctx, NULL, &need, digest, DKIM_HASH_LEN) == 1 && need <= *siglen &&
		    EVP_PKEY_sign(ctx, sig, siglen, digest, DKIM_HASH_LEN) == 1)
			rc = 0;
		EVP_PKEY_CTX_free(ctx);
		return rc;
	}
	/* RFC 8463 3: PureEdDSA (no prehash) over the SHA-256 of the data */
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	size_t need = 0;
	if (mctx && EVP_DigestSignInit(mctx, NULL, NULL, NULL, k->pkey) == 1 &&
	    EVP_DigestSign(mctx, NULL, &need, digest, DKIM_HASH_LEN) == 1 && need <= *siglen &&
	    EVP_DigestSign(mctx, sig, siglen, digest, DKIM_HASH_LEN) == 1)
		rc = 0;
	EVP_MD_CTX_free(mctx);
	return rc;
}

int dkim_pkey_verify(const struct dkim_pkey *k, const unsigned char digest[DKIM_HASH_LEN], const unsigned char *sig,
                     size_t siglen)
{
	int r;
	if (k->type == DKIM_KEY_RSA) {
		EVP_PKEY_CTX *ctx = dkim_pkey_rsa_ctx(k->pkey, 0);
		if (ctx == NULL)
			return -1;
		r = EVP_PKEY_verify(ctx, sig, siglen, digest, DKIM_HASH_LEN);
		EVP_PKEY_CTX_free(ctx);
	} else {
		EVP_MD_CTX *mctx = EVP_MD_CTX_new();
		if (mctx == NULL)
			return -1;
		r = EVP_DigestVerifyInit(mctx, NULL, NULL, NULL, k->pkey);
		if (r == 1)
			r = EVP_DigestVerify(mctx, sig, siglen, digest, DKIM_HASH_LEN);
		EVP_MD_CTX_free(mctx);
	}
	/* 0 and the negative "bad encoding" answers all mean "not a valid
	 * signature": what a forger sends is not our error */
	return r == 1 ? 1 : 0;
}

struct dkim_pkey *dkim_pkey_generate(enum dkim_key_type type, unsigned bits)
{
	EVP_PKEY *pkey;
	if (type == DKIM_KEY_ED25519) {
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	} else {
		if (bits < DKIM_RSA_SIGN_MIN || bits > DKIM_RSA_SIGN_MAX)
			return NULL;
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	}
	return pkey ? dkim_pkey_wrap(pkey) : NULL;
}

int dkim_pkey_public_b64(const struct dkim_pkey *k, struct buf *out)
{
	unsigned char raw[64];
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t n;
	if (k->type == DKIM_KEY_ED25519) {
		n = sizeof raw;
		if (EVP_PKEY_get_raw_public_key(k->pkey, raw, &n) != 1)
			return -1;
		p = raw;
	} else {
		int len = i2d_PUBKEY(k->pkey, &der);
		if (len <= 0)
			return -1;
		p = der;
		n = (size_t)len;
	}
	int rc = -1;
	char *b64 = malloc(4 * ((n + 2) / 3) + 1);
	if (b64 != NULL) {
		size_t bn = base64_encode(p, n, b64);
		rc = buf_append(out, b64, bn);
		free(b64);
	}
	OPENSSL_free(der);
	return rc;
}

int dkim_pkey_private_pem(const struct dkim_pkey *k, struct buf *out)
{
	BIO *bio = BIO_new(BIO_s_mem());
	if (bio == NULL)
		return -1;
	int rc = -1;
	if (PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL) == 1) {
		char *data;
		long n = BIO_get_mem_data(bio, &data);
		if (n > 0)
			rc = buf_append(out, data, (size_t)n);
		if (n > 0)
			OPENSSL_cleanse(data, (size_t)n);
	}
	BIO_free(bio);
	return rc;
}
