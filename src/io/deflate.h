/*
 * deflate — the two directions of COMPRESS=DEFLATE (RFC 4978) as
 * libevent filter functions: raw DEFLATE (RFC 1951, no zlib header) in
 * both directions, every write flushed at once (Z_SYNC_FLUSH) because
 * the peer waits for each reply. zlib does the compression: it is the
 * reference implementation, and a second one of ours would only add
 * bugs.
 *
 * The input side respects the limit libevent gives (the read high-water
 * mark of the connection), so a small compressed stream that expands to
 * gigabytes is inflated only as fast as the owner consumes it.
 */
#ifndef TERN_IO_DEFLATE_H
#define TERN_IO_DEFLATE_H

#include <event2/bufferevent.h>

struct io_deflate;

/* A pair of streams, or NULL (ENOMEM). failed(arg) is called once when
 * the peer's stream does not decode (or ends): libevent drops a filter's
 * error silently, so the connection must be told. */
struct io_deflate *io_deflate_new(void (*failed)(void *arg), void *arg);
void io_deflate_free(void *d);  /* a free_context for bufferevent_filter_new */
enum bufferevent_filter_result io_deflate_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
                                             enum bufferevent_flush_mode mode, void *d);
enum bufferevent_filter_result io_deflate_out(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
                                              enum bufferevent_flush_mode mode, void *d);

#endif
