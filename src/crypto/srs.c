/*
 * srs — see srs.h. Owns nothing: every function works on the caller's
 * strings and writes only into the caller's out, through one bounded
 * writer (struct srs_out), so no path can write past outlen.
 *
 * Inputs are read with strnlen up to SRS_ADDR_MAX + 1, so an address
 * without a NUL in reach is refused as too long rather than read on.
 * Every length below is at most SRS_ADDR_MAX, and every sum is checked
 * against the room left before the octets are copied.
 */
#include "crypto/srs.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#define SRS_PREFIX "SRS0="
#define SRS_PREFIX_LEN (sizeof SRS_PREFIX - 1)
#define SRS_HASH_LEN 8         /* base32 characters: 40 bits of the HMAC */
#define SRS_HASH_OCTETS 5      /* the HMAC octets those 8 characters hold */
#define SRS_STAMP_LEN 2        /* base32 characters: 10 bits */
#define SRS_STAMP_DAYS 1024    /* what 10 bits count before they wrap */
#define SRS_DAY_SECONDS 86400  /* POSIX time has no leap seconds */

/* RFC 4648 6, the base32 alphabet. */
static const char srs_b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* ASCII only, whatever the locale: the hash must come out the same on
 * every host, and only ASCII letters have a case SMTP cares about. */
static char srs_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static char srs_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* The value of one base32 character, either case, or -1. */
static int srs_b32_value(char c)
{
	c = srs_upper(c);
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

static bool srs_caseeq(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return false;
	for (size_t i = 0; i < an; i++)
		if (srs_lower(a[i]) != srs_lower(b[i]))
			return false;
	return true;
}

/* Whether the n octets at s start with SRS0=, any case. */
static bool srs_has_prefix(const char *s, size_t n)
{
	return n >= SRS_PREFIX_LEN && srs_caseeq(s, SRS_PREFIX_LEN, SRS_PREFIX, SRS_PREFIX_LEN);
}

/*
 * Whether n octets may be carried: no space, control octet or DEL (none
 * can stand in an unquoted address, RFC 5321 4.1.2), and none of the
 * octets in refuse. Octets from 0x80 up pass, for SMTPUTF8 (RFC 6531).
 */
static bool srs_octets_ok(const char *s, size_t n, const char *refuse)
{
	size_t rn = strlen(refuse);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c == 0x7f || memchr(refuse, c, rn) != NULL)
			return false;
	}
	return true;
}

/* The day stamp of now: days since the epoch, rounded down (so a time
 * before the epoch is still counted whole days), modulo 1024. */
static unsigned srs_day(int64_t now)
{
	int64_t d = now / SRS_DAY_SECONDS;
	if (now % SRS_DAY_SECONDS < 0)
		d--;
	int64_t m = d % SRS_STAMP_DAYS;
	return (unsigned)(m < 0 ? m + SRS_STAMP_DAYS : m);
}

/*
 * HASH for TT, DOMAIN and LOCAL: the first 40 bits of
 * HMAC-SHA256(secret, lowercase(TT "=" DOMAIN "=" LOCAL)) in base32,
 * upper case. False when none can be made: an empty secret (anyone could
 * then make our addresses and bounce mail through us), one longer than
 * OpenSSL takes, fields too long, or OpenSSL failing.
 */
static bool srs_hash(const unsigned char *secret, size_t secret_len, const char tt[SRS_STAMP_LEN],
                     const char *domain, size_t dl, const char *local, size_t ll, char hash[SRS_HASH_LEN])
{
	char msg[SRS_STAMP_LEN + 2 + SRS_ADDR_MAX];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	size_t len = 0;

	if (secret == NULL || secret_len == 0 || secret_len > INT_MAX)
		return false;
	/* both callers hold dl + ll under SRS_ADDR_MAX; checked all the same */
	if (dl > SRS_ADDR_MAX || ll > SRS_ADDR_MAX - dl)
		return false;
	for (size_t i = 0; i < SRS_STAMP_LEN; i++)
		msg[len++] = srs_lower(tt[i]);
	msg[len++] = '=';
	for (size_t i = 0; i < dl; i++)
		msg[len++] = srs_lower(domain[i]);
	msg[len++] = '=';
	for (size_t i = 0; i < ll; i++)
		msg[len++] = srs_lower(local[i]);

	if (HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)msg, len, mac, &maclen) == NULL ||
	    maclen < SRS_HASH_OCTETS)
		return false;
	/* 5 octets are 40 bits, exactly 8 characters of 5 bits, high first */
	uint64_t v = 0;
	for (size_t i = 0; i < SRS_HASH_OCTETS; i++)
		v = (v << 8) | mac[i];
	for (size_t i = 0; i < SRS_HASH_LEN; i++)
		hash[i] = srs_b32[(v >> (5 * (SRS_HASH_LEN - 1 - i))) & 31];
	return true;
}

/* Every failure leaves out empty, so a caller that ignores the status
 * still cannot send to a half-written address. */
static enum srs_status srs_fail(char *out, size_t outlen, enum srs_status s)
{
	if (out != NULL && outlen > 0)
		out[0] = '\0';
	return s;
}

/* The one writer into the caller's buffer. It takes at most
 * min(SRS_ADDR_MAX, outlen - 1) octets; a put that would pass that marks
 * it over and writes nothing. */
struct srs_out {
	char *p; /* borrowed: the caller's out */
	size_t len;
	size_t max;    /* len never passes it */
	size_t outlen; /* the caller's, for the "" on failure */
	bool over;
};

static void srs_out_init(struct srs_out *o, char *out, size_t outlen)
{
	o->p = out;
	o->len = 0;
	o->outlen = outlen;
	o->over = outlen == 0;
	o->max = outlen == 0 ? 0 : outlen - 1 < SRS_ADDR_MAX ? outlen - 1 : SRS_ADDR_MAX;
}

static void srs_out_put(struct srs_out *o, const char *s, size_t n)
{
	if (o->over || n > o->max - o->len) {
		o->over = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

/* NUL-terminate; SRS_TOO_LONG (and out "") if any put did not fit. */
static enum srs_status srs_out_end(struct srs_out *o)
{
	if (o->over)
		return srs_fail(o->p, o->outlen, SRS_TOO_LONG);
	o->p[o->len] = '\0';
	return SRS_OK;
}

enum srs_status srs_forward(const unsigned char *secret, size_t secret_len, int64_t now, const char *sender,
                            const char *our_domain, char *out, size_t outlen)
{
	size_t n = strnlen(sender, SRS_ADDR_MAX + 1), on = strnlen(our_domain, SRS_ADDR_MAX + 1);
	if (n > SRS_ADDR_MAX || on > SRS_ADDR_MAX)
		return srs_fail(out, outlen, SRS_TOO_LONG);
	const char *at = memchr(sender, '@', n);
	if (at == NULL)
		return srs_fail(out, outlen, SRS_SYNTAX);
	const char *local = sender, *domain = at + 1;
	size_t ll = (size_t)(at - sender), dl = n - ll - 1;
	/* a second '@' can only be in the domain, as the first was taken */
	if (ll == 0 || dl == 0 || on == 0 || !srs_octets_ok(local, ll, "\"\\") || !srs_octets_ok(domain, dl, "@=") ||
	    !srs_octets_ok(our_domain, on, "@="))
		return srs_fail(out, outlen, SRS_SYNTAX);

	struct srs_out o;
	srs_out_init(&o, out, outlen);
	if (srs_has_prefix(local, ll) && srs_caseeq(domain, dl, our_domain, on)) {
		srs_out_put(&o, sender, n);
		return srs_out_end(&o);
	}

	unsigned day = srs_day(now);
	char tt[SRS_STAMP_LEN] = {srs_b32[(day >> 5) & 31], srs_b32[day & 31]};
	char hash[SRS_HASH_LEN];
	if (!srs_hash(secret, secret_len, tt, domain, dl, local, ll, hash))
		return srs_fail(out, outlen, SRS_BAD_HASH);
	srs_out_put(&o, SRS_PREFIX, SRS_PREFIX_LEN);
	srs_out_put(&o, hash, SRS_HASH_LEN);
	srs_out_put(&o, "=", 1);
	srs_out_put(&o, tt, SRS_STAMP_LEN);
	srs_out_put(&o, "=", 1);
	srs_out_put(&o, domain, dl);
	srs_out_put(&o, "=", 1);
	srs_out_put(&o, local, ll);
	srs_out_put(&o, "@", 1);
	srs_out_put(&o, our_domain, on);
	return srs_out_end(&o);
}

enum srs_status srs_reverse(const unsigned char *secret, size_t secret_len, int64_t now, const char *addr, char *out,
                            size_t outlen)
{
	if (!srs_is_srs(addr))
		return srs_fail(out, outlen, SRS_NOT_SRS);
	size_t n = strnlen(addr, SRS_ADDR_MAX + 1);
	if (n > SRS_ADDR_MAX)
		return srs_fail(out, outlen, SRS_TOO_LONG);
	/* the local part ends at the last '@'; the prefix holds none, so
	 * end is at or after the prefix */
	const char *end = memrchr(addr, '@', n);
	if (end == NULL || end + 1 == addr + n)
		return srs_fail(out, outlen, SRS_SYNTAX);

	/* HASH "=" */
	const char *hash = addr + SRS_PREFIX_LEN;
	const char *eq = memchr(hash, '=', (size_t)(end - hash));
	if (eq == NULL)
		return srs_fail(out, outlen, SRS_SYNTAX);
	size_t hl = (size_t)(eq - hash);
	/* TT "=" */
	const char *tt = eq + 1;
	if (end - tt < SRS_STAMP_LEN + 1 || tt[SRS_STAMP_LEN] != '=')
		return srs_fail(out, outlen, SRS_SYNTAX);
	int hi = srs_b32_value(tt[0]), lo = srs_b32_value(tt[1]);
	if (hi < 0 || lo < 0)
		return srs_fail(out, outlen, SRS_SYNTAX);
	/* DOMAIN "=": the first '=' ends it, for domains have none */
	const char *domain = tt + SRS_STAMP_LEN + 1;
	eq = memchr(domain, '=', (size_t)(end - domain));
	if (eq == NULL || eq == domain)
		return srs_fail(out, outlen, SRS_SYNTAX);
	size_t dl = (size_t)(eq - domain);
	/* LOCAL: all the rest, '=' and all */
	const char *local = eq + 1;
	size_t ll = (size_t)(end - local);
	if (ll == 0)
		return srs_fail(out, outlen, SRS_SYNTAX);

	char want[SRS_HASH_LEN], got[SRS_HASH_LEN];
	if (!srs_hash(secret, secret_len, tt, domain, dl, local, ll, want) || hl != SRS_HASH_LEN)
		return srs_fail(out, outlen, SRS_BAD_HASH);
	for (size_t i = 0; i < SRS_HASH_LEN; i++)
		got[i] = srs_upper(hash[i]);
	/* constant time, so the answer's timing does not tell a forger how
	 * many leading characters were right */
	if (CRYPTO_memcmp(got, want, SRS_HASH_LEN) != 0)
		return srs_fail(out, outlen, SRS_BAD_HASH);

	/* the distance back from today to the stamp, both modulo 1024: 0..21
	 * is the past we accept, 1023 is one day ahead */
	unsigned stamp = (unsigned)((hi << 5) | lo);
	unsigned age = (srs_day(now) + SRS_STAMP_DAYS - stamp) % SRS_STAMP_DAYS;
	if (age > SRS_MAX_AGE_DAYS && age != SRS_STAMP_DAYS - 1)
		return srs_fail(out, outlen, SRS_EXPIRED);

	struct srs_out o;
	srs_out_init(&o, out, outlen);
	srs_out_put(&o, local, ll);
	srs_out_put(&o, "@", 1);
	srs_out_put(&o, domain, dl);
	return srs_out_end(&o);
}

bool srs_is_srs(const char *addr)
{
	return srs_has_prefix(addr, strnlen(addr, SRS_PREFIX_LEN));
}

const char *srs_status_text(enum srs_status s)
{
	switch (s) {
	case SRS_OK: return "ok";
	case SRS_NOT_SRS: return "not an SRS address";
	case SRS_BAD_HASH: return "SRS hash does not match";
	case SRS_EXPIRED: return "SRS address expired";
	case SRS_SYNTAX: return "malformed address";
	case SRS_TOO_LONG: return "address too long";
	}
	return "unknown SRS status";
}
