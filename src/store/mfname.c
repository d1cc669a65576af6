/*
 * mfname — Maildir file names as every Maildir reader understands them
 * (the qmail layout, with the Maildir++ size fields and Dovecot's
 * keyword letters):
 *
 *   BASE[:2,FLAGS]      BASE identifies the message for its whole life:
 *                       the uidlist, POP3 UIDLs and other readers know it
 *                       by BASE (everything before the first ':'), so no
 *                       code here ever changes it;
 *   BASE ",S=" n        the file's size, ",W=" n its size with CR LF line
 *                       ends (RFC822.SIZE), both optional, inside BASE;
 *   FLAGS               one letter per flag in ASCII order: D F P R S T
 *                       for Draft, Flagged, Passed, Replied, Seen,
 *                       Trashed, then 'a'..'z' for the folder's keywords
 *                       (dovecot-keywords). Letters we do not know are
 *                       kept, and so is anything after a second ','.
 *
 * New names are made as mta/maildir.c makes them (TIME.MusecPpid_N.HOST)
 * with ,S= and ,W= added, as Dovecot adds them, so that nobody needs to
 * read the file to learn its sizes.
 */
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/maildir_host.h"
#include "store/store_int.h"


size_t mfname_base_len(const char *name)
{
	return strcspn(name, ":");
}

static unsigned mfname_letter_flag(char c)
{
	switch (c) {
	case 'D': return IMAP_FLAG_DRAFT;
	case 'F': return IMAP_FLAG_FLAGGED;
	case 'P': return IMAP_FLAG_PASSED;
	case 'R': return IMAP_FLAG_ANSWERED;
	case 'S': return IMAP_FLAG_SEEN;
	case 'T': return IMAP_FLAG_DELETED;
	default: return 0;
	}
}

/* The letters of ":2," info, or NULL when the name has none (":1,"
 * experimental info counts as none, as in Dovecot). */
static const char *mfname_letters(const char *name)
{
	const char *info = strrchr(name, ':');
	if (info == NULL || info[1] != '2' || info[2] != ',')
		return NULL;
	return info + 3;
}

void mfname_flags(const char *name, unsigned *flags, imap_keywords *kw)
{
	*flags = 0;
	*kw = 0;
	const char *p = mfname_letters(name);
	for (; p && *p && *p != ','; p++) {
		if (*p >= 'a' && *p <= 'z')
			*kw |= (imap_keywords)1 << (*p - 'a');
		else
			*flags |= mfname_letter_flag(*p);
	}
}

int mfname_with_flags(const char *name, unsigned flags, imap_keywords kw, char *out, size_t outlen)
{
	const char *info = strrchr(name, ':');
	size_t keep = info ? (size_t)(info - name) : strlen(name);
	const char *old = mfname_letters(name);
	bool have[256] = { false };
	if (old) {
		for (; *old && *old != ','; old++) {
			unsigned char c = (unsigned char)*old;
			/* known letters are decided by flags and kw alone */
			if (mfname_letter_flag((char)c) == 0 && !(c >= 'a' && c <= 'z') && c > 0x20 && c < 0x7f)
				have[c] = true;
		}
	}
	static const char sys[] = "DFPRST";
	for (const char *s = sys; *s; s++)
		if (flags & mfname_letter_flag(*s))
			have[(unsigned char)*s] = true;
	for (int i = 0; i < IMAP_KEYWORDS_MAX; i++)
		if (kw & ((imap_keywords)1 << i))
			have['a' + i] = true;
	size_t n = 0;
	if (keep + 3 >= outlen)
		return -1;
	memcpy(out, name, keep);
	n = keep;
	memcpy(out + n, ":2,", 3);
	n += 3;
	for (int c = 0; c < 256; c++) {
		if (!have[c])
			continue;
		if (n + 1 >= outlen)
			return -1;
		out[n++] = (char)c;
	}
	if (old && *old == ',') {
		size_t rest = strlen(old);
		if (n + rest >= outlen)
			return -1;
		memcpy(out + n, old, rest);
		n += rest;
	}
	out[n] = '\0';
	return n > NAME_MAX ? -1 : 0;
}

bool mfname_size_field(const char *name, size_t baselen, char key, uint64_t *v)
{
	for (size_t i = 0; i + 3 <= baselen; i++) {
		if (name[i] != ',' || name[i + 1] != key || name[i + 2] != '=')
			continue;
		size_t k = i + 3;
		uint64_t x = 0;
		while (k < baselen && name[k] >= '0' && name[k] <= '9') {
			if (x > (UINT64_MAX - 9) / 10)
				return false;
			x = x * 10 + (uint64_t)(name[k] - '0');
			k++;
		}
		if (k == i + 3 || (k < baselen && name[k] != ','))
			continue;
		*v = x;
		return true;
	}
	return false;
}

void mfname_hostname(char *out, size_t n)
{
	maildir_host(out, n);
}

static atomic_uint mfname_counter;

int mfname_unique(char *out, size_t outlen, uint64_t size, uint64_t vsize)
{
	char host[MAILDIR_HOST_MAX + 1];
	mfname_hostname(host, sizeof host);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	unsigned c = atomic_fetch_add(&mfname_counter, 1);
	int n = snprintf(out, outlen, "%lld.M%ldP%ld_%u.%s,S=%llu,W=%llu", (long long)ts.tv_sec, ts.tv_nsec / 1000,
	                 (long)getpid(), c, host, (unsigned long long)size, (unsigned long long)vsize);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* Compare two runs of digits as numbers, however long. */
static int mfname_cmp_digits(const char *a, size_t an, const char *b, size_t bn)
{
	while (an > 1 && *a == '0')
		a++, an--;
	while (bn > 1 && *b == '0')
		b++, bn--;
	if (an != bn)
		return an < bn ? -1 : 1;
	int c = memcmp(a, b, an);
	return c < 0 ? -1 : c > 0;
}

/* The microseconds of ".M<digits>" inside the component after the time. */
static bool mfname_usecs(const char *s, const char **d, size_t *dn)
{
	if (*s != '.')
		return false;
	for (s++; *s && *s != '.' && *s != ':'; s++) {
		if (*s == 'M') {
			const char *p = s + 1;
			size_t k = 0;
			while (p[k] >= '0' && p[k] <= '9')
				k++;
			*d = p;
			*dn = k;
			return k > 0;
		}
	}
	return false;
}

int mfname_cmp(const char *a, const char *b)
{
	size_t an = 0, bn = 0;
	while (a[an] >= '0' && a[an] <= '9')
		an++;
	while (b[bn] >= '0' && b[bn] <= '9')
		bn++;
	int c = 0;
	if (an && bn)
		c = mfname_cmp_digits(a, an, b, bn);
	if (c)
		return c;
	const char *ua, *ub;
	size_t uan, ubn;
	if (an && bn && mfname_usecs(a + an, &ua, &uan) && mfname_usecs(b + bn, &ub, &ubn)) {
		c = mfname_cmp_digits(ua, uan, ub, ubn);
		if (c)
			return c;
	}
	size_t la = mfname_base_len(a), lb = mfname_base_len(b);
	c = memcmp(a, b, la < lb ? la : lb);
	if (c)
		return c < 0 ? -1 : 1;
	return la < lb ? -1 : la > lb;
}

bool mfname_ok(const char *name)
{
	if (name[0] == '.' || name[0] == ':' || name[0] == '\0')
		return false;
	size_t n = strlen(name);
	if (n > NAME_MAX)
		return false;
	return strpbrk(name, "/\r\n") == NULL;
}
