/*
 * recipient — who a RCPT TO address is: a local mailbox (after aliases
 * and the recipient delimiter), a remote address, or a refusal. The
 * relay rule lives here: non-local recipients only for authenticated
 * clients. Pure policy over the configuration.
 */
#ifndef TERN_RECIPIENT_H
#define TERN_RECIPIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"
#include <time.h>

#include "proto/smtp_addr.h"
#include "proto/smtp_reply.h"

#define RECIPIENT_MAX_TARGETS 4096 /* final addresses in one transaction, aliases expanded */

struct recipient_list {
	char **addrs;   /* final addresses (owned): local ones lower case, no +tag */
	size_t n;
};

struct srs_secret;
/* Resolve `to` and append its final addresses to out (duplicates within
 * out are skipped). Returns SMTP_R_RCPT_OK or the refusal. srs: the key
 * of SRS addresses (NULL: none are accepted): a bounce to one of them
 * goes to the original sender, a forged or expired one is refused with
 * SMTP_R_SRS_INVALID. now: for their time stamps. */
enum smtp_reply_id recipient_resolve(const struct conf *c, const struct srs_secret *srs, time_t now,
                                     const struct smtp_addr *to, bool may_relay,
                                     struct recipient_list *out);
void recipient_list_free(struct recipient_list *l);
/* Split "local@domain" for delivery: true when domain is local. */
bool recipient_is_local(const struct conf *c, const char *addr);

#endif
