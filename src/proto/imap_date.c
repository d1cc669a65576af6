/*
 * imap_date — IMAP dates (RFC 9051 9: date, date-time, zone; RFC 3501
 * 9 the same) and the Date: header of RFC 5322 3.3, with the obsolete
 * syntax of RFC 5322 4.3. See imap_date.h.
 *
 * No locale and no time zone database: month names are compared in
 * ASCII, every zone is an offset in minutes, and the civil calendar is
 * computed here (proleptic Gregorian, the algorithm of days counted in
 * 400-year eras that begin on March 1st), so the answers never depend
 * on the TZ of the process.
 *
 * The IMAP forms are parsed strictly: they come from clients that
 * follow the grammar. The Date: header is parsed leniently, because
 * SEARCH SENT* should still find a message whose sender wrote "9:05"
 * or "CEST": what cannot be understood of the zone counts as -0000
 * (RFC 5322 4.3 already says so of the military letters), and words
 * after the zone are ignored.
 */
#include "proto/imap_date.h"

/* 0000-01-01 00:00:00 and 9999-12-31 23:59:59: the years four digits
 * can show. Local times outside are clamped to them before any
 * conversion, so no arithmetic below can overflow. */
#define IMAP_DATE_T_MIN (-62167219200LL)
#define IMAP_DATE_T_MAX 253402300799LL
#define IMAP_DATE_TZ_MAX (99 * 60 + 59) /* "+9959": the largest zone four digits can say */

static const char imap_date_months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char imap_date_wdays[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

static unsigned char imap_date_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static bool imap_date_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool imap_date_is_alpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Do the three octets at p spell `name` (ASCII, any case)? */
static bool imap_date_name3(const unsigned char *p, const char *name)
{
	for (int k = 0; k < 3; k++)
		if (imap_date_lower(p[k]) != imap_date_lower((unsigned char)name[k]))
			return false;
	return true;
}

/* The month (1-12) the three octets at p name, or 0. */
static unsigned imap_date_month(const unsigned char *p)
{
	for (unsigned m = 0; m < 12; m++)
		if (imap_date_name3(p, imap_date_months[m]))
			return m + 1;
	return 0;
}

static bool imap_date_is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned imap_date_mdays(int y, unsigned m)
{
	static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && imap_date_is_leap(y) ? 29 : days[m - 1];
}

/*
 * The year is counted from March, so that February and its leap day end
 * it; a 400-year era then always holds 146097 days, and the day of the
 * year follows from the month by the line (153 * m + 2) / 5 that fits
 * the 31/30-day pattern of March to January. Everything is in 64 bits:
 * any int year and any unsigned month and day are safe (if meaningless
 * out of range).
 */
int64_t imap_days_from_civil(int y, unsigned m, unsigned d)
{
	int64_t yy = (int64_t)y - (m <= 2 ? 1 : 0);
	int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoe = yy - era * 400;                           /* [0, 399] */
	int64_t mp = ((int64_t)m + 9) % 12;                     /* March is 0 */
	int64_t doy = (153 * mp + 2) / 5 + (int64_t)d - 1;      /* [0, 365] */
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;    /* [0, 146096] */
	return era * 146097 + doe - 719468;                     /* 1970-03-01 is day 719468 of era 0 */
}

/* The inverse, for days within the clamped range. */
static void imap_date_civil(int64_t z, int *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2 ? 1 : 0));
}

/* t in the zone tz_min as seconds of local time, within the range four
 * digits of year can show. A zone no "+hhmm" can write counts as UTC.
 * The local time is what is clamped (t only as far as keeps the sum
 * from overflowing), so every instant whose local time can be shown is
 * shown exactly. */
static int64_t imap_date_local(int64_t t, int tz_min)
{
	if (tz_min < -IMAP_DATE_TZ_MAX || tz_min > IMAP_DATE_TZ_MAX)
		tz_min = 0;
	if (t < IMAP_DATE_T_MIN - IMAP_DATE_TZ_MAX * 60)
		t = IMAP_DATE_T_MIN - IMAP_DATE_TZ_MAX * 60;
	if (t > IMAP_DATE_T_MAX + IMAP_DATE_TZ_MAX * 60)
		t = IMAP_DATE_T_MAX + IMAP_DATE_TZ_MAX * 60;
	t += (int64_t)tz_min * 60;
	if (t < IMAP_DATE_T_MIN)
		t = IMAP_DATE_T_MIN;
	if (t > IMAP_DATE_T_MAX)
		t = IMAP_DATE_T_MAX;
	return t;
}

/* Floor division of local seconds into days and the second of the day. */
static int64_t imap_date_split(int64_t local, int64_t *sod)
{
	int64_t days = local / 86400, rem = local % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	*sod = rem;
	return days;
}

imap_day imap_day_of(int64_t t, int tz_min)
{
	int64_t sod;
	int y;
	unsigned m, d;
	imap_date_civil(imap_date_split(imap_date_local(t, tz_min), &sod), &y, &m, &d);
	return (imap_day)(y * 10000 + (int)m * 100 + (int)d);
}

/* Append v in exactly `width` digits (leading zeros). */
static char *imap_date_digits(char *p, unsigned v, int width)
{
	for (int k = width - 1; k >= 0; k--) {
		p[k] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

void imap_datetime_format(int64_t t, int tz_min, char *out)
{
	if (tz_min < -IMAP_DATE_TZ_MAX || tz_min > IMAP_DATE_TZ_MAX)
		tz_min = 0;
	int64_t sod;
	int y;
	unsigned m, d;
	imap_date_civil(imap_date_split(imap_date_local(t, tz_min), &sod), &y, &m, &d);
	unsigned az = (unsigned)(tz_min < 0 ? -tz_min : tz_min);
	char *p = out;
	*p++ = d < 10 ? ' ' : (char)('0' + d / 10);
	*p++ = (char)('0' + d % 10);
	*p++ = '-';
	for (int k = 0; k < 3; k++)
		*p++ = imap_date_months[m - 1][k];
	*p++ = '-';
	p = imap_date_digits(p, (unsigned)y, 4);
	*p++ = ' ';
	p = imap_date_digits(p, (unsigned)(sod / 3600), 2);
	*p++ = ':';
	p = imap_date_digits(p, (unsigned)(sod / 60 % 60), 2);
	*p++ = ':';
	p = imap_date_digits(p, (unsigned)(sod % 60), 2);
	*p++ = ' ';
	*p++ = tz_min < 0 ? '-' : '+';
	p = imap_date_digits(p, az / 60, 2);
	p = imap_date_digits(p, az % 60, 2);
	*p = '\0';
}

/* Exactly `count` digits at s[*i]; their value. */
static bool imap_date_fixed(const unsigned char *s, size_t n, size_t *i, int count, unsigned *v)
{
	if (n - *i < (size_t)count)
		return false;
	*v = 0;
	for (int k = 0; k < count; k++) {
		if (!imap_date_is_digit(s[*i]))
			return false;
		*v = *v * 10 + (unsigned)(s[(*i)++] - '0');
	}
	return true;
}

/* "-Mon-yyyy" after the day; validates the day against the month. */
static bool imap_date_rest(const unsigned char *s, size_t n, size_t *i, unsigned d, int *y, unsigned *m)
{
	unsigned year;
	if (n - *i < 5 || s[*i] != '-')
		return false;
	*m = imap_date_month(s + *i + 1);
	if (*m == 0 || s[*i + 4] != '-')
		return false;
	*i += 5;
	if (!imap_date_fixed(s, n, i, 4, &year))
		return false;
	*y = (int)year;
	return d >= 1 && d <= imap_date_mdays(*y, *m);
}

/* RFC 9051 9: date-text = date-day "-" date-month "-" date-year, with
 * date-day = 1*2DIGIT. */
bool imap_date_parse(const char *str, size_t n, imap_day *out)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	unsigned d = 0, m;
	int y;

	while (i < n && i < 2 && imap_date_is_digit(s[i]))
		d = d * 10 + (unsigned)(s[i++] - '0');
	if (i == 0 || !imap_date_rest(s, n, &i, d, &y, &m) || i != n)
		return false;
	*out = (imap_day)(y * 10000 + (int)m * 100 + (int)d);
	return true;
}

/*
 * RFC 9051 9: date-time = DQUOTE date-day-fixed "-" date-month "-"
 * date-year SP time SP zone DQUOTE (the caller has the quoted string's
 * contents). date-day-fixed is " d" or "dd"; a lone "d" is let in too,
 * since nothing else could be meant.
 */
bool imap_datetime_parse(const char *str, size_t n, int64_t *t, int *tz_min)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	unsigned d = 0, m, hh, mi, ss, zh, zm;
	int y;

	if (i < n && s[i] == ' ')
		i++;
	size_t d0 = i;
	while (i < n && i - d0 < (d0 ? 1u : 2u) && imap_date_is_digit(s[i]))
		d = d * 10 + (unsigned)(s[i++] - '0');
	if (i == d0 || !imap_date_rest(s, n, &i, d, &y, &m))
		return false;
	/* " hh:mm:ss +zzzz" */
	if (n - i != 15 || s[i] != ' ' || s[i + 3] != ':' || s[i + 6] != ':' || s[i + 9] != ' ' ||
	    (s[i + 10] != '+' && s[i + 10] != '-'))
		return false;
	size_t at[5] = {i + 1, i + 4, i + 7, i + 11, i + 13};
	unsigned *v[5] = {&hh, &mi, &ss, &zh, &zm};
	for (int k = 0; k < 5; k++)
		if (!imap_date_fixed(s, n, &at[k], 2, v[k]))
			return false;
	char sign = (char)s[i + 10];
	if (hh > 23 || mi > 59 || ss > 60 || zm > 59)
		return false;
	int tz = (int)(zh * 60 + zm) * (sign == '-' ? -1 : 1);
	*t = imap_days_from_civil(y, m, d) * 86400 + (int64_t)(hh * 3600 + mi * 60 + ss) - (int64_t)tz * 60;
	*tz_min = tz;
	return true;
}

/* ---- RFC 5322 Date: ---- */

struct imap_date_scan {
	const unsigned char *s;
	size_t n, i;
};

/* CFWS (RFC 5322 3.2.2): blanks, line ends of folding, and comments,
 * which nest and may hold quoted-pairs. An unclosed comment runs to the
 * end. No recursion: the nesting is only counted. */
static void imap_date_cfws(struct imap_date_scan *sc)
{
	while (sc->i < sc->n) {
		unsigned char c = sc->s[sc->i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			sc->i++;
			continue;
		}
		if (c != '(')
			return;
		size_t depth = 0;
		while (sc->i < sc->n) {
			c = sc->s[sc->i++];
			if (c == '\\' && sc->i < sc->n)
				sc->i++;
			else if (c == '(')
				depth++;
			else if (c == ')' && --depth == 0)
				break;
		}
	}
}

/* A run of digits: how many (the value is kept only for up to 9). */
static size_t imap_date_num(struct imap_date_scan *sc, unsigned *v)
{
	size_t k = 0;
	*v = 0;
	while (sc->i < sc->n && imap_date_is_digit(sc->s[sc->i])) {
		if (k < 9)
			*v = *v * 10 + (unsigned)(sc->s[sc->i] - '0');
		sc->i++;
		k++;
	}
	return k;
}

/* A run of letters: where it starts and how long it is. */
static size_t imap_date_word(struct imap_date_scan *sc, const unsigned char **w)
{
	*w = sc->s + sc->i;
	size_t k = 0;
	while (sc->i < sc->n && imap_date_is_alpha(sc->s[sc->i])) {
		sc->i++;
		k++;
	}
	return k;
}

static bool imap_date_take(struct imap_date_scan *sc, unsigned char c)
{
	if (sc->i < sc->n && sc->s[sc->i] == c) {
		sc->i++;
		return true;
	}
	return false;
}

/*
 * The zone: "+hhmm"/"-hhmm", or RFC 5322 4.3 obs-zone. The American
 * names have their offsets; UT, GMT, the military letters (whose signs
 * RFC 822 got backwards, so 4.3 says to take them as -0000), names not
 * known here and a missing zone all count as 0.
 */
static int imap_date_zone(struct imap_date_scan *sc)
{
	if (sc->i < sc->n && (sc->s[sc->i] == '+' || sc->s[sc->i] == '-')) {
		int sign = sc->s[sc->i] == '-' ? -1 : 1;
		sc->i++;
		unsigned v;
		size_t k = imap_date_num(sc, &v);
		if (k != 4 || v % 100 > 59)
			return 0;
		return sign * (int)(v / 100 * 60 + v % 100);
	}
	static const struct {
		char name[4];
		int off;
	} names[] = {
	        {"EST", -5 * 60}, {"EDT", -4 * 60}, {"CST", -6 * 60}, {"CDT", -5 * 60},
	        {"MST", -7 * 60}, {"MDT", -6 * 60}, {"PST", -8 * 60}, {"PDT", -7 * 60},
	};
	const unsigned char *w;
	size_t k = imap_date_word(sc, &w);
	if (k == 3)
		for (size_t j = 0; j < sizeof names / sizeof names[0]; j++)
			if (imap_date_name3(w, names[j].name))
				return names[j].off;
	return 0;
}

/*
 * RFC 5322 3.3 and 4.3:
 *   [day-of-week ","] day month year hour ":" minute [":" second] zone
 * with CFWS between any two parts, a day name without its comma, years
 * of two digits (00-49 are 2000-2049, 50-99 are 1950-1999) and of three
 * (1900 added), a one-digit hour, and month and day names spelled out.
 */
bool mail_date_parse(const char *str, size_t n, int64_t *t, int *tz_min)
{
	struct imap_date_scan sc = {.s = (const unsigned char *)str, .n = n};
	const unsigned char *w;
	unsigned d, m, y, hh, mi, ss = 0;
	size_t k;

	imap_date_cfws(&sc);
	k = imap_date_word(&sc, &w);
	if (k > 0) {
		bool wday = false;
		for (int j = 0; k >= 3 && j < 7; j++)
			wday = wday || imap_date_name3(w, imap_date_wdays[j]);
		if (!wday)
			return false;
		imap_date_cfws(&sc);
		if (imap_date_take(&sc, ','))
			imap_date_cfws(&sc);
	}
	k = imap_date_num(&sc, &d);
	if (k < 1 || k > 2)
		return false;
	imap_date_cfws(&sc);
	if (imap_date_word(&sc, &w) < 3 || (m = imap_date_month(w)) == 0)
		return false;
	imap_date_cfws(&sc);
	k = imap_date_num(&sc, &y);
	if (k < 2 || k > 4)
		return false;
	if (k == 2)
		y += y < 50 ? 2000 : 1900;
	else if (k == 3)
		y += 1900;
	imap_date_cfws(&sc);
	k = imap_date_num(&sc, &hh);
	if (k < 1 || k > 2)
		return false;
	imap_date_cfws(&sc);
	if (!imap_date_take(&sc, ':'))
		return false;
	imap_date_cfws(&sc);
	if (imap_date_num(&sc, &mi) != 2)
		return false;
	imap_date_cfws(&sc);
	if (imap_date_take(&sc, ':')) {
		imap_date_cfws(&sc);
		if (imap_date_num(&sc, &ss) != 2)
			return false;
		imap_date_cfws(&sc);
	}
	int tz = imap_date_zone(&sc);
	if (d < 1 || d > imap_date_mdays((int)y, m) || hh > 23 || mi > 59 || ss > 60)
		return false;
	*t = imap_days_from_civil((int)y, m, d) * 86400 + (int64_t)(hh * 3600 + mi * 60 + ss) - (int64_t)tz * 60;
	*tz_min = tz;
	return true;
}
