/*
 * smtpd — the SMTP server roles wired together: a service's accepted
 * connections get a session engine (proto/smtp_server), the recipient
 * policy, and the queue intake. One file per job: this one owns the
 * sessions, nothing else. The rows of the service table (mta/service.h)
 * for smtp, submission and submissions.
 */
#ifndef TERN_SMTPD_H
#define TERN_SMTPD_H

#include "mta/service.h"

extern const struct service_kind smtpd_kind_smtp;
extern const struct service_kind smtpd_kind_submission;
extern const struct service_kind smtpd_kind_submissions;

#endif
