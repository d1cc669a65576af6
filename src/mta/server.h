/*
 * server — the state one running `tern serve` shares between its parts:
 * the configuration, the queue, the loop, the worker pools, the TLS
 * context, the scheduler, the services (listeners) and the limits that
 * bound them. Owned by cmd/serve.c; one per process today, but nothing
 * in mta/ keeps state outside it (so that tests, and a later split into
 * processes, can hold several).
 *
 * The limits are derived from the resources actually obtained
 * (server_limits_init): the open-file limit is raised as far as the hard
 * limit allows, and the session and outbound caps are what it leaves once
 * every other descriptor tern may hold is set aside.
 */
#ifndef TERN_SERVER_H
#define TERN_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

#include "conf/conf.h"
#include "io/io.h"
#include "mta/srs_secret.h"

#define SERVER_MAX_PER_NET 100         /* sessions per client address (IPv6: per /64), loopback exempt */
#define SERVER_NET_BUCKETS 1024
#define SERVER_FDS_FIXED 64            /* stdio, listeners, pipes, DNS, control socket and clients */
#define SERVER_FDS_PER_WORKER 4        /* a queue file, a Maildir file, a directory being flushed, one spare */
#define SERVER_OUTBOUND_MAX 256        /* relay connections at most, whatever the limit */
#define SERVER_STORAGE_CHECK_S 1       /* how long a free-space reading is trusted */
/* A session's lifetime, as a multiple of command-timeout (1 hour by
 * default): a client keeping a session open with NOOPs for ever holds a
 * slot for ever. Enforced between commands. */
#define SERVER_LIFETIME_TIMEOUTS 12

struct scheduler;
struct relay;
struct io_dns;
struct queue;
struct auth;
struct service;
struct pickup;
struct control;
struct mailbox_lock;
struct signer;
struct io_watch;

struct server_net_count {
	char net[64];
	unsigned n;
	struct server_net_count *next;
};

/* A session's place in the limits, filled by server_session_open. */
struct server_slot {
	char addr[64];      /* the client's address as text */
	char net[64];       /* what the per-network limits count: the address, or its /64 */
	bool loopback;
	bool counted;
};

enum server_admit {
	SERVER_ADMIT = 0,
	SERVER_STOPPING,    /* shutting down */
	SERVER_FULL,        /* the session cap (421 4.3.2: the system, not the client) */
	SERVER_NET_FULL,    /* too many from this client's network (421 4.7.0) */
};

struct server {
	struct conf *conf;
	struct queue *queue;               /* DATA-DIR/queue (data-dir cannot change on reload) */
	struct io_loop *loop;
	struct io_workers *commit_pool;    /* queue writes and commits, pickup, removals */
	struct io_workers *delivery_pool;  /* Maildir writes, state records, POP3 scans and deletions */
	struct io_workers *read_pool;      /* file reads for sending: relay content, POP3 RETR */
	struct io_workers *auth_pool;      /* password hashing (crypt(3) takes 20-90 ms on purpose) */
	struct io_workers *imap_pool;      /* IMAP commands against the mail store (src/store) */
	struct io_watch *watch;            /* directory changes for IMAP IDLE (NULL without inotify) */
	struct io_tls *tls;                /* NULL when no TLS could be set up */
	struct signer *signer;             /* the dkim-keys (mta/signer) */
	struct srs_secret srs;             /* the key of SRS addresses (DATA-DIR/srs-secret) */
	struct scheduler *sched;
	struct relay *relay;               /* outbound SMTP */
	struct io_dns *dns;                /* c-ares channel (relay, reverse names) */
	struct auth *auth;                 /* password checks and their throttling */
	struct pickup *pickup;             /* the sendmail drop area's poller */
	struct control *control;           /* the control socket */
	struct mailbox_lock *mailbox_locks; /* maildrops in use by a POP3 session (mta/mailbox.c) */
	struct service **services;         /* one per listen line (owned) */
	size_t nservices;
	/* limits (server_limits_init) */
	unsigned max_sessions, max_outbound;
	unsigned nsessions;
	struct server_net_count *per_net[SERVER_NET_BUCKETS];
	unsigned long serial;              /* session ids */
	time_t storage_checked;
	bool storage_low;
	bool stopping;
};

/*
 * Raise RLIMIT_NOFILE to the hard limit, then derive max_sessions and
 * max_outbound from what was obtained, and log both. nworkers: threads of
 * every pool. 0, or -1 when the limit leaves no room for a session.
 */
int server_limits_init(struct server *s, unsigned nworkers);

/* Count a new session from sa against the limits. SERVER_ADMIT fills
 * slot (close it with server_session_close); anything else is the
 * reason to refuse. */
enum server_admit server_session_open(struct server *s, const struct sockaddr *sa, struct server_slot *slot);
void server_session_close(struct server *s, struct server_slot *slot);

/* Free space of data-dir's file system under 1.5 x max-message-size
 * (CONTRACT.md "Free space"): MAIL gets 452 4.3.1. Read at most once a
 * second (statvfs reads no disk: the file system keeps the figure). */
bool server_storage_low(struct server *s);

/* A session id for the log: prefix and a number unique in the process. */
void server_session_id(struct server *s, char prefix, char *out, size_t outlen);

/* How long a session may last: SERVER_LIFETIME_TIMEOUTS x command-timeout. */
unsigned server_session_lifetime(const struct server *s);

#endif
