/*
 * server — the state one running `tern serve` shares between its parts:
 * the configuration, the loop, the worker pools, the TLS context, the
 * session counters and the scheduler. Owned by cmd/serve.c.
 */
#ifndef TERN_SERVER_H
#define TERN_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"
#include "io/io.h"

#define SERVER_MAX_SESSIONS 4000       /* in total */
#define SERVER_MAX_PER_ADDR 100        /* per client address, loopback exempt */
#define SERVER_ADDR_BUCKETS 1024

struct scheduler;
struct relay;
struct io_dns;
struct queue;

struct server_addr_count {
	char addr[64];
	unsigned n;
	struct server_addr_count *next;
};

struct server {
	struct conf *conf;
	struct queue *queue;               /* DATA-DIR/queue (data-dir cannot change on reload) */
	struct io_loop *loop;
	struct io_workers *commit_pool;    /* fsync of incoming messages */
	struct io_workers *delivery_pool;  /* Maildir writes */
	struct io_workers *read_pool;      /* file reads for sending: relay content, POP3 RETR */
	struct io_tls *tls;                /* NULL when no TLS could be set up */
	struct scheduler *sched;
	struct relay *relay;               /* outbound SMTP */
	struct io_dns *dns;                /* c-ares channel (relay, reverse names) */
	unsigned nsessions;
	struct server_addr_count *per_addr[SERVER_ADDR_BUCKETS];
	bool stopping;
};

/* Count a new session from addr; false when a limit is reached. */
bool server_session_open(struct server *s, const char *addr, bool loopback);
void server_session_close(struct server *s, const char *addr, bool loopback);

#endif
