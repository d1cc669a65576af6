/*
 * base64 — RFC 4648 section 4 encoding, for SASL (RFC 4954) exchanges.
 * Decoding is strict: no whitespace, correct padding, canonical trailing
 * bits; anything else is refused, so "malformed base64" has one meaning.
 */
#ifndef TERN_BASE64_H
#define TERN_BASE64_H

#include <stddef.h>

/* The value of one base64 digit, or -1. c63 is the digit for 63: '/'
 * in RFC 4648, ',' in IMAP's modified UTF-7 (RFC 3501 5.1.3). */
int base64_digit(unsigned char c, char c63);
/* Decode n chars of in into out (room for outmax octets). Returns the
 * decoded length, or -1 on malformed input or lack of room. */
long base64_decode(const char *in, size_t n, unsigned char *out, size_t outmax);
/* Encode n octets; out needs 4*((n+2)/3)+1 chars. Returns the length. */
size_t base64_encode(const unsigned char *in, size_t n, char *out);

#endif
