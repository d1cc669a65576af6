/*
 * bounce — turning failed recipients of a queued message into a delivery
 * status notification queued for its sender (RFC 3464), from
 * MAILER-DAEMON with the null sender. Blocking (queue writes): worker pool.
 */
#ifndef TERN_BOUNCE_H
#define TERN_BOUNCE_H

#include <stddef.h>

#include "conf/conf.h"
#include "proto/dsn.h"
#include "queue/queue_store.h"

/* Queue a report about rcpts[] of env. Returns 0 with the new message's
 * id in id_out, 1 when no report is due (null sender: never bounce a
 * bounce, RFC 3464 2), -1 on failure. */
struct signer;
/* The report is DKIM-signed with the keys of conf_report_domain() when
 * signer has them (CONTRACT.md `dkim-key`). */
int bounce_queue(const struct conf *conf, const struct signer *signer, struct queue *q, const struct queue_env *env, const struct dsn_rcpt *rcpts,
                 size_t n, char id_out[QUEUE_ID_MAX]);

#endif
