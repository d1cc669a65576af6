/*
 * control — the server's control socket DATA-DIR/control (mode 0600, and
 * only the server's own uid or root are served), through which `tern
 * queue` steers a running server. A line protocol, one command a line,
 * one reply each:
 *   flush        retry every queued message now          -> ok
 *   delete ID    never deliver ID; remove it from the     -> ok
 *                queue (after an attempt in flight ends)  -> error no such message
 *   list         ids with an attempt in flight            -> delivering ID ... ok
 * Anything else -> "error TEXT". Lines are at most CONTROL_LINE_MAX octets.
 */
#ifndef TERN_CONTROL_H
#define TERN_CONTROL_H

#define CONTROL_LINE_MAX 128
#define CONTROL_SOCKET   "control" /* under the data-dir */

struct server;

/* Listen on DATA-DIR/control. 0, or -1 after logging why (another live
 * server on the same data-dir is refused). */
int control_start(struct server *srv);
/* Stop listening and remove the socket file (at exit; optional). */
void control_stop(struct server *srv);

#endif
