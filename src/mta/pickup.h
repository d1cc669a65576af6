/*
 * pickup — moves messages that `tern sendmail` left in the drop area
 * (DATA-DIR/queue/drop/, see queue/queue_drop.h) into the queue: at
 * start and then once a second, on the commit pool, never on the loop.
 * A drop file is hostile input from a local user: it is validated, its
 * recipients are resolved like RCPT TO of an authenticated client (local
 * injection may send anywhere), invalid ones are skipped with a log line,
 * and a file with no valid recipient goes to queue/corrupt/.
 */
#ifndef TERN_PICKUP_H
#define TERN_PICKUP_H

#define PICKUP_INTERVAL_MS 1000

struct server;

/* Open up the drop area (modes of queue_drop.h) and start polling it.
 * 0, or -1 after logging why. */
int pickup_start(struct server *srv);

#endif
