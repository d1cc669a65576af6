/*
 * checksum — CRC-32 (the IEEE 802.3 polynomial, reflected, as zlib and
 * PNG compute it) over the cache files, so that a torn or scribbled
 * tern-index or tern-cache record is noticed and rebuilt instead of
 * believed. Not a defence against someone forging a file: the Maildir
 * is the truth and the cache only saves work.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store_int.h"

static uint32_t checksum_table[256];
static pthread_once_t checksum_once = PTHREAD_ONCE_INIT;

static void checksum_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
		checksum_table[i] = c;
	}
}

/* Continue crc (0 to start) over n octets. */
uint32_t store_crc32(uint32_t crc, const void *p, size_t n)
{
	pthread_once(&checksum_once, checksum_init);
	const unsigned char *s = p;
	uint32_t c = crc ^ 0xffffffffu;
	for (size_t i = 0; i < n; i++)
		c = checksum_table[(c ^ s[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}
