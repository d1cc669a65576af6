/*
 * tls — the server TLS context: TLS 1.2 and 1.3 only, the certificate
 * chain and key of the configuration, or a self-signed pair made on first
 * start. Only io/ sees OpenSSL.
 */
#ifndef TERN_TLS_H
#define TERN_TLS_H

#include <stddef.h>

struct io_tls;

/* cert/key NULL: use (creating when missing) DATA_DIR/tls/{cert,key}.pem. */
struct io_tls *io_tls_new(const char *cert, const char *key, const char *data_dir, const char *hostname,
                          char *err, size_t errlen);
void io_tls_free(struct io_tls *t);

#endif
