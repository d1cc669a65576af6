/*
 * auth — password checks for every face that logs users in (SMTP AUTH,
 * POP3 USER/PASS and AUTH): the users file's crypt(3) hashes, checked on
 * the worker pool, with the same delays and throttling for all of them.
 */
#ifndef TERN_AUTH_H
#define TERN_AUTH_H

#include <stdbool.h>

struct server;

enum auth_result {
	AUTH_OK,
	AUTH_FAILED,     /* unknown user, wrong password, locked account */
	AUTH_THROTTLED,  /* too many recent failures from this address: not checked */
};

#define AUTH_MAX_FAILURES 5            /* failures from one address within the window... */
#define AUTH_WINDOW_S (10 * 60)        /* ...this long... */
#define AUTH_THROTTLE_S (5 * 60)       /* ...throttle it for this long */
#define AUTH_DELAY_MS 1000             /* a failure is answered this late, doubling... */
#define AUTH_DELAY_MAX_MS 8000         /* ...up to this */
#define AUTH_MAX_INFLIGHT 8            /* checks running at once for one address */
#define AUTH_TABLE_SIZE 4096           /* addresses remembered; the oldest is forgotten */

/*
 * Check user (a full address, compared without regard to case) and pass
 * for a client at client_addr. done(arg, result) runs later on the event
 * loop, never inside auth_check(); the caller keeps arg alive until then
 * (a session that loses its client meanwhile stays allocated, as smtpd's
 * `committing`). The password is copied, and wiped once checked; it is
 * never logged. Failures are logged as
 * "auth failed user=<escaped> client=[addr]".
 */
void auth_check(struct server *srv, const char *client_addr, bool loopback, const char *user, const char *pass,
                void (*done)(void *arg, enum auth_result r), void *arg);

#endif
