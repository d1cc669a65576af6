/*
 * srs_secret — the key of tern's Sender Rewriting Scheme addresses
 * (crypto/srs), DATA-DIR/srs-secret: 32 random octets made on the first
 * start, readable by tern alone, and the same ever after, so that a
 * bounce to an address rewritten weeks ago still verifies.
 */
#ifndef TERN_SRS_SECRET_H
#define TERN_SRS_SECRET_H

#include <stddef.h>

#define SRS_SECRET_LEN 32
#define SRS_SECRET_FILE "srs-secret"

struct srs_secret {
	unsigned char key[SRS_SECRET_LEN];
};

/* Read it, or make it when missing (flushed, with its directory). A
 * file that is not a regular file of SRS_SECRET_LEN octets readable by
 * its owner only is refused, not replaced. 0, or -1 with "PATH: reason". */
int srs_secret_load(const char *data_dir, struct srs_secret *s, char *err, size_t errlen);

#endif
