/*
 * auth — password checks shared by SMTP AUTH and POP3. See auth.h.
 *
 * Owns the failure tables (loop thread only) and the check jobs. A check:
 *   1. on the loop: the client's network and the account are consulted;
 *      a throttled one (AUTH_MAX_FAILURES from the network, or
 *      AUTH_ACCOUNT_MAX_FAILURES for the account, within AUTH_WINDOW_S)
 *      is answered AUTH_THROTTLED at once, without hashing, for
 *      AUTH_THROTTLE_S;
 *   2. on a worker of srv->auth_pool, a pool of its own so that hashing
 *      never waits behind the fsyncs that gate every 250, nor they
 *      behind it: crypt_rn(3) of the password with the stored hash as
 *      setting, compared in constant time with the stored hash (a
 *      yescrypt check takes 20-90 ms: never on the loop);
 *   3. on the loop: success clears the network's failures and is
 *      answered at once; a failure is counted for both and answered only
 *      when AUTH_DELAY_MS << (failures - 1), capped at AUTH_DELAY_MAX_MS,
 *      has passed since the check began.
 *
 * Why these choices:
 * - The network, not the address: an IPv6 client commonly holds a whole
 *   /64 (RFC 7934) and could try from a fresh address each time.
 * - The account too: guessing one user's password from many networks is
 *   bounded to AUTH_ACCOUNT_MAX_FAILURES per window. The price is that
 *   such an attack delays that user's own logins (by AUTH_THROTTLE_S at
 *   a time), which beats letting it go on.
 * - An unknown user, or a locked account ('*' or '!' hash), costs the
 *   same hash computation as a real one, against a real user's hash when
 *   there is one (so the cost matches the scheme in use), and the result
 *   is forced to a failure: the time to answer does not tell which names
 *   exist. The failure delay counts from the start of the check, which
 *   hides the remaining differences.
 * - crypt(3) reports errors as NULL or a string starting with '*'
 *   ("*0", "*1"): such a result never matches, and a stored hash that
 *   itself starts with '*' or '!' never matches either, or comparing "*0"
 *   with a stored "*0" would log anyone in.
 * - Loopback clients get the same thresholds: a local process guessing
 *   passwords is no more welcome than a remote one.
 * - Concurrent checks from one network are bounded (AUTH_MAX_INFLIGHT),
 *   so parallel connections cannot try many passwords before the first
 *   failures are counted; the checks past the bound wait their turn
 *   (a client opening its connections at once, users behind one NAT)
 *   and meet the throttle as it stands when they start.
 * - Each table is bounded (AUTH_TABLE_SIZE): a full table forgets first
 *   an entry with nothing to remember, then the one untouched longest
 *   that is not throttled, and a throttled one only when every entry is:
 *   filling the table from many networks does not lift a throttle early.
 */
#include "mta/auth.h"

#include <crypt.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/log.h"
#include "conf/conf.h"
#include "io/io.h"
#include "mta/server.h"

/* A yescrypt hash of a string nobody uses: the dummy when the users file
 * has no usable hash at all. */
#define AUTH_DUMMY_HASH "$y$j9T$QkVnwLSvdEexZfcerkqkU0$OfpR6gmFGuqQLg9ExcQu8CR/I/pJ2S4VblXJEyOGxb6"
#define AUTH_USER_LOG_MAX 256

struct auth_entry {
	char key[AUTH_USER_LOG_MAX + 1]; /* a network, or an account in lower case; "" when free */
	unsigned failures;        /* within the window that began at window_start */
	unsigned inflight;
	uint64_t window_start;    /* ms, monotonic */
	uint64_t throttled_until; /* ms; 0 when not throttled */
	uint64_t last;            /* ms of the last use, for eviction */
};

struct auth_job;

struct auth {
	struct server *srv;
	struct auth_entry nets[AUTH_TABLE_SIZE];
	struct auth_entry accounts[AUTH_TABLE_SIZE];
	/* checks waiting for their network's turn (AUTH_MAX_INFLIGHT) */
	struct auth_job *wait_head, *wait_tail;
	unsigned nwaiting;
};

struct auth_job {
	struct server *srv;
	char addr[64];            /* for the log */
	char net[64];             /* the network's entry */
	char account[AUTH_USER_LOG_MAX + 1]; /* the account's entry: the user, lower case */
	char user[AUTH_USER_LOG_MAX + 1]; /* for the log only (cut) */
	char *pass;               /* owned, wiped before free */
	char *hash;               /* owned copy: the configuration may be reloaded meanwhile */
	bool can_match;           /* a known user with an unlocked hash */
	bool matched;             /* result of the worker */
	uint64_t started;
	enum auth_result result;
	struct io_timer *timer;   /* owned: the answer's delay */
	void (*done)(void *arg, enum auth_result r);
	void *arg;
	struct auth_job *wait_next;
};

struct auth *auth_new(struct server *srv)
{
	struct auth *a = calloc(1, sizeof *a);
	if (a)
		a->srv = srv;
	return a;
}

static void auth_job_free(struct auth_job *j);

void auth_free(struct auth *a)
{
	if (a == NULL)
		return;
	while (a->wait_head) {
		struct auth_job *j = a->wait_head;
		a->wait_head = j->wait_next;
		auth_job_free(j);
	}
	free(a);
}

static uint64_t auth_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool auth_entry_throttled(struct auth_entry *e, uint64_t now);

/* The entry of key in table, made when missing (auth.c's top says which
 * entry a full table gives up). */
static struct auth_entry *auth_entry_get(struct auth_entry *table, const char *key, uint64_t now)
{
	struct auth_entry *free_e = NULL, *idle = NULL, *oldest = NULL, *oldest_any = NULL;
	for (size_t i = 0; i < AUTH_TABLE_SIZE; i++) {
		struct auth_entry *e = &table[i];
		if (e->key[0] == '\0') {
			if (free_e == NULL)
				free_e = e;
			continue;
		}
		if (strcmp(e->key, key) == 0) {
			e->last = now;
			return e;
		}
		bool throttled = auth_entry_throttled(e, now);
		if (!throttled && e->failures == 0 && e->inflight == 0 && idle == NULL)
			idle = e;
		if (!throttled && e->inflight == 0 && (oldest == NULL || e->last < oldest->last))
			oldest = e;
		if (e->inflight == 0 && (oldest_any == NULL || e->last < oldest_any->last))
			oldest_any = e;
	}
	struct auth_entry *e = free_e ? free_e : idle ? idle : oldest ? oldest : oldest_any;
	if (e == NULL)
		e = &table[now % AUTH_TABLE_SIZE]; /* every entry is busy: AUTH_MAX_INFLIGHT bounds this */
	memset(e, 0, sizeof *e);
	snprintf(e->key, sizeof e->key, "%s", key);
	e->last = now;
	return e;
}

/* Forget failures that have aged out; true while throttled. */
static bool auth_entry_throttled(struct auth_entry *e, uint64_t now)
{
	if (e->throttled_until && now >= e->throttled_until) {
		e->throttled_until = 0;
		e->failures = 0;
	}
	if (e->failures && now - e->window_start >= (uint64_t)AUTH_WINDOW_S * 1000)
		e->failures = 0;
	return e->throttled_until != 0;
}

/* Equal strings, in time that depends only on the stored one's length. */
static bool auth_equal(const char *given, const char *stored)
{
	size_t lg = strlen(given), ls = strlen(stored);
	unsigned char d = lg != ls;
	for (size_t i = 0; i < ls; i++)
		d |= (unsigned char)((i < lg ? given[i] : 0) ^ stored[i]);
	return d == 0;
}

static bool auth_hash_usable(const char *h)
{
	return h && h[0] != '\0' && h[0] != '*' && h[0] != '!';
}

/* Worker thread: the hash. Touches only the job. */
static void auth_work(void *arg)
{
	struct auth_job *j = arg;
	struct crypt_data *cd = calloc(1, sizeof *cd); /* 32 KiB: not on a worker's stack */
	j->matched = false;
	if (cd != NULL) {
		const char *r = crypt_rn(j->pass, j->hash, cd, (int)sizeof *cd);
		j->matched = j->can_match && r != NULL && r[0] != '*' && auth_equal(r, j->hash);
		/* crypt_data holds the passphrase's intermediate state */
		explicit_bzero(cd, sizeof *cd);
		free(cd);
	}
	explicit_bzero(j->pass, strlen(j->pass));
}

static void auth_job_free(struct auth_job *j)
{
	if (j->pass) {
		explicit_bzero(j->pass, strlen(j->pass));
		free(j->pass);
	}
	free(j->hash);
	io_timer_free(j->timer);
	free(j);
}

/* The answer leaves: done() runs, the job goes. */
static void auth_answer_cb(void *arg)
{
	struct auth_job *j = arg;
	void (*done)(void *, enum auth_result) = j->done;
	void *darg = j->arg;
	enum auth_result r = j->result;
	/* Freed first: done() may start another check for the same session. */
	auth_job_free(j);
	done(darg, r);
}

static void auth_answer_later(struct auth_job *j, uint64_t ms)
{
	if (j->timer == NULL)
		j->timer = io_timer_new(j->srv->loop, auth_answer_cb, j);
	if (j->timer == NULL)
		panic("auth: cannot make a timer");
	io_timer_start(j->timer, ms);
}

static void auth_log(const char *what, const struct auth_job *j, unsigned failures)
{
	struct buf u;
	buf_init(&u, LOG_VALUE_MAX);
	log_put_value(&u, j->user, strlen(j->user), AUTH_USER_LOG_MAX);
	log_msg("auth %s user=%s client=[%s] failures=%u", what, u.data ? u.data : "", j->addr, failures);
	buf_free(&u);
}

/* One more failure in e's window; true when it makes e throttled. */
static void auth_entry_fail(struct auth_entry *e, uint64_t now, unsigned max)
{
	auth_entry_throttled(e, now); /* ages out an old window */
	if (e->failures == 0)
		e->window_start = now;
	e->failures++;
	if (e->failures >= max && e->throttled_until == 0)
		e->throttled_until = now + (uint64_t)AUTH_THROTTLE_S * 1000;
}

static void auth_wake(struct auth *a, const char *net);

/* Loop thread, after the hash. */
static void auth_work_done(void *arg)
{
	struct auth_job *j = arg;
	struct auth *a = j->srv->auth;
	uint64_t now = auth_now_ms();
	struct auth_entry *e = auth_entry_get(a->nets, j->net, now);
	if (e->inflight)
		e->inflight--;
	auth_wake(a, j->net);
	if (j->matched) {
		e->failures = 0;
		e->throttled_until = 0;
		j->result = AUTH_OK;
		auth_answer_later(j, 0);
		return;
	}
	auth_entry_fail(e, now, AUTH_MAX_FAILURES);
	if (j->account[0])
		auth_entry_fail(auth_entry_get(a->accounts, j->account, now), now, AUTH_ACCOUNT_MAX_FAILURES);
	auth_log("failed", j, e->failures);
	unsigned shift = e->failures - 1 < 3 ? e->failures - 1 : 3;
	uint64_t delay = (uint64_t)AUTH_DELAY_MS << shift;
	if (delay > AUTH_DELAY_MAX_MS)
		delay = AUTH_DELAY_MAX_MS;
	uint64_t spent = now - j->started;
	j->result = AUTH_FAILED;
	auth_answer_later(j, delay > spent ? delay - spent : 0);
}

/* The hash to compute for this user: its own, or a stand-in of the same
 * cost. */
static const char *auth_hash_for(const struct conf *c, const char *user, bool *can_match)
{
	const struct conf_user *u = conf_find_user(c, user);
	*can_match = u != NULL && auth_hash_usable(u->hash);
	if (*can_match)
		return u->hash;
	for (size_t i = 0; i < c->nusers; i++)
		if (auth_hash_usable(c->users[i].hash))
			return c->users[i].hash;
	return AUTH_DUMMY_HASH;
}

/* Start a check, or answer it at once when throttled, or let it wait
 * while its network has AUTH_MAX_INFLIGHT checks running: a burst of
 * parallel logins (a client opening its five connections, users behind
 * one NAT) is served in turn, never refused for being many, and the
 * failures counted meanwhile apply when its turn comes. */
static void auth_admit(struct auth *a, struct auth_job *j)
{
	uint64_t now = auth_now_ms();
	struct auth_entry *e = auth_entry_get(a->nets, j->net, now);
	struct auth_entry *acc = j->account[0] ? auth_entry_get(a->accounts, j->account, now) : NULL;
	bool acc_throttled = acc && auth_entry_throttled(acc, now);
	bool busy = e->inflight >= AUTH_MAX_INFLIGHT;
	if (auth_entry_throttled(e, now) || acc_throttled || (busy && a->nwaiting >= AUTH_MAX_WAITING)) {
		auth_log(acc_throttled ? "throttled-account" : busy ? "busy" : "throttled", j,
		         acc_throttled ? acc->failures : e->failures);
		j->result = AUTH_THROTTLED;
		auth_answer_later(j, 0);
		return;
	}
	if (busy) {
		j->wait_next = NULL;
		if (a->wait_tail)
			a->wait_tail->wait_next = j;
		else
			a->wait_head = j;
		a->wait_tail = j;
		a->nwaiting++;
		return;
	}
	e->inflight++;
	io_workers_submit(j->srv->auth_pool, auth_work, auth_work_done, j);
}

/* A check of net ended: the first one waiting for that network goes. */
static void auth_wake(struct auth *a, const char *net)
{
	struct auth_job *prev = NULL;
	for (struct auth_job *j = a->wait_head; j; prev = j, j = j->wait_next) {
		if (strcmp(j->net, net) != 0)
			continue;
		if (prev)
			prev->wait_next = j->wait_next;
		else
			a->wait_head = j->wait_next;
		if (a->wait_tail == j)
			a->wait_tail = prev;
		a->nwaiting--;
		auth_admit(a, j);
		return;
	}
}

void auth_check(struct server *srv, const struct server_slot *slot, const char *user, const char *pass,
                void (*done)(void *arg, enum auth_result r), void *arg)
{
	/* Loopback gets the same thresholds: see the top of the file. */
	struct auth *a = srv->auth;
	struct auth_job *j = calloc(1, sizeof *j);
	if (j == NULL)
		panic("auth: out of memory");
	j->srv = srv;
	j->done = done;
	j->arg = arg;
	j->started = auth_now_ms();
	snprintf(j->addr, sizeof j->addr, "%s", slot->addr);
	snprintf(j->net, sizeof j->net, "%s", slot->net);
	snprintf(j->user, sizeof j->user, "%s", user ? user : "");
	bool whole = user != NULL && strlen(user) <= AUTH_USER_LOG_MAX;
	if (whole && conf_find_user(srv->conf, user) != NULL) {
		/* Only real accounts get an entry: made-up names must not push
		 * them out of the table. */
		for (size_t i = 0; user[i]; i++)
			j->account[i] = (char)tolower((unsigned char)user[i]);
	}
	bool can_match;
	const char *h = auth_hash_for(srv->conf, j->user, &can_match);
	/* The name was cut for the log: it cannot match a user then. */
	if (!whole)
		can_match = false;
	j->can_match = can_match;
	j->hash = strdup(h);
	j->pass = strdup(pass ? pass : "");
	if (j->hash == NULL || j->pass == NULL)
		panic("auth: out of memory");
	auth_admit(a, j);
}
