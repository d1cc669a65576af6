/*
 * imap_date — the dates of IMAP and of message headers:
 * - IMAP date ("1-Feb-1994", RFC 9051 9 "date", for SEARCH) and
 *   date-time ("17-Jul-1996 02:44:25 -0700", INTERNALDATE and APPEND);
 * - RFC 5322 3.3 date-time of the Date: header, with the obsolete forms
 *   of 4.3 (two-digit years, alphabetic zones, comments, missing
 *   seconds), for SENTBEFORE/SENTON/SENTSINCE.
 * Pure; no locale, no time zone database: every zone is an offset.
 */
#ifndef TERN_IMAP_DATE_H
#define TERN_IMAP_DATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A calendar day, for comparisons: year*10000 + month*100 + day. */
typedef int32_t imap_day;

/* "d-Mon-yyyy" or "dd-Mon-yyyy" (month names case-insensitive), quoted
 * or not (the caller strips quotes). False when invalid (Feb 30 too). */
bool imap_date_parse(const char *s, size_t n, imap_day *out);

/* "dd-Mon-yyyy hh:mm:ss +zzzz" (day may be " d", as RFC 9051 date-day-fixed
 * allows). *t is seconds since the epoch (UTC), *tz_min the zone's offset
 * in minutes east of UTC. False when invalid. */
bool imap_datetime_parse(const char *s, size_t n, int64_t *t, int *tz_min);

/* Format t in the zone tz_min as "dd-Mon-yyyy hh:mm:ss +zzzz" (day two
 * characters, space-padded: "date-day-fixed"), NUL-terminated; out must
 * hold IMAP_DATETIME_LEN + 1 octets. */
#define IMAP_DATETIME_LEN 26
void imap_datetime_format(int64_t t, int tz_min, char *out);

/* The calendar day of t in the zone tz_min. */
imap_day imap_day_of(int64_t t, int tz_min);

/* An RFC 5322 date-time (the obsolete syntax too; leading day name and
 * comments optional). False when no date can be made of it. */
bool mail_date_parse(const char *s, size_t n, int64_t *t, int *tz_min);

/* Days since the epoch of a civil date (proleptic Gregorian), and back. */
int64_t imap_days_from_civil(int y, unsigned m, unsigned d);

#endif
