/*
 * base64 — RFC 4648 section 4. See base64.h.
 */
#include "base/base64.h"

static const char base64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_digit(unsigned char c, char c63)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == (unsigned char)c63)
		return 63;
	return -1;
}

long base64_decode(const char *in, size_t n, unsigned char *out, size_t outmax)
{
	if (n % 4 != 0)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		int pad = 0;
		for (int k = 0; k < 4; k++) {
			if (in[i + k] == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad) /* data after padding */
				return -1;
			v[k] = base64_digit((unsigned char)in[i + k], '/');
			if (v[k] < 0)
				return -1;
		}
		if (pad == 1 && in[i + 2] == '=')
			return -1;
		unsigned long w = ((unsigned long)v[0] << 18) | ((unsigned long)v[1] << 12) | ((unsigned long)v[2] << 6) |
		                  (unsigned long)v[3];
		size_t emit = 3 - (size_t)pad;
		/* canonical form: the bits under the padding are zero */
		if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
			return -1;
		if (o + emit > outmax)
			return -1;
		out[o++] = (unsigned char)(w >> 16);
		if (emit > 1)
			out[o++] = (unsigned char)(w >> 8);
		if (emit > 2)
			out[o++] = (unsigned char)w;
	}
	return (long)o;
}

size_t base64_encode(const unsigned char *in, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned long w = (unsigned long)in[i] << 16;
		if (i + 1 < n)
			w |= (unsigned long)in[i + 1] << 8;
		if (i + 2 < n)
			w |= in[i + 2];
		out[o++] = base64_alphabet[(w >> 18) & 63];
		out[o++] = base64_alphabet[(w >> 12) & 63];
		out[o++] = i + 1 < n ? base64_alphabet[(w >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? base64_alphabet[w & 63] : '=';
	}
	out[o] = '\0';
	return o;
}
