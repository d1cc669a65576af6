/*
 * auth — password checks for every face that logs users in (SMTP AUTH,
 * POP3 USER/PASS and AUTH): the users file's crypt(3) hashes, checked on
 * the worker pool, with the same delays and throttling for all of them.
 */
#ifndef TERN_AUTH_H
#define TERN_AUTH_H

#include <stdbool.h>

struct server;
struct server_slot;
struct auth;

struct auth *auth_new(struct server *srv);
void auth_free(struct auth *a);

enum auth_result {
	AUTH_OK,
	AUTH_FAILED,     /* unknown user, wrong password, locked account */
	AUTH_THROTTLED,  /* too many recent failures from this address: not checked */
};

#define AUTH_MAX_FAILURES 5            /* failures from one network within the window... */
#define AUTH_WINDOW_S (10 * 60)        /* ...this long... */
#define AUTH_THROTTLE_S (5 * 60)       /* ...throttle it for this long */
#define AUTH_ACCOUNT_MAX_FAILURES 20   /* failures for one account, from anywhere, within the window */
#define AUTH_DELAY_MS 1000             /* a failure is answered this late, doubling... */
#define AUTH_DELAY_MAX_MS 8000         /* ...up to this */
#define AUTH_MAX_INFLIGHT 8            /* checks running at once for one network; more wait their turn */
#define AUTH_MAX_WAITING 1024          /* checks waiting, over all networks; more are refused */
#define AUTH_TABLE_SIZE 4096           /* networks (and accounts) remembered; see auth.c for which go */

/*
 * Check user (a full address, compared without regard to case) and pass
 * for the client of slot (its network is what the throttle counts: the
 * address, or its /64 for IPv6). done(arg, result) runs later on the event
 * loop, never inside auth_check(); the caller keeps arg alive until then
 * (a session that loses its client meanwhile stays allocated, as smtpd's
 * `committing`). The password is copied, and wiped once checked; it is
 * never logged. Failures are logged as
 * "auth failed user=USER client=[ADDR] failures=N".
 */
void auth_check(struct server *srv, const struct server_slot *slot, const char *user, const char *pass,
                void (*done)(void *arg, enum auth_result r), void *arg);

#endif
