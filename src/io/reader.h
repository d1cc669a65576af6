/*
 * reader — a file read in pieces on a worker pool, for the event loop
 * that sends it (the relay's message content, a POP3 RETR; IMAP FETCH
 * later), so that the loop itself never waits on the disk.
 *
 * The owner says how to open the file (open() runs on a worker and
 * returns a descriptor positioned where reading starts) and how much to
 * read. Two buffers: while the owner sends one piece, the next is being
 * read. The owner takes what is there with io_reader_peek(), gives back
 * what it used with io_reader_consume(), and is told by ready() when a
 * piece it waited for has arrived. Loop thread only, but for open().
 */
#ifndef TERN_IO_READER_H
#define TERN_IO_READER_H

#include <stddef.h>
#include <stdint.h>

#include "io/io.h"

#define IO_READER_CHUNK (64 * 1024)
#define IO_READER_TO_EOF UINT64_MAX

struct io_reader;

struct io_reader_source {
	int (*open)(void *arg);       /* on a worker: an fd, or -1 with errno */
	void (*free_arg)(void *arg);  /* on the loop, when the reader goes; may be NULL */
	void *arg;                    /* owned by the reader from io_reader_new() on */
	uint64_t len;                 /* octets to read; fewer in the file is EIO;
	                               * IO_READER_TO_EOF: as many as there are */
};

/* Start reading at once. ready(arg) is called on the loop after
 * io_reader_peek() answered 0 and a piece (or the end, or an error) has
 * arrived. NULL on ENOMEM (src->arg is then freed). */
struct io_reader *io_reader_new(struct io_workers *pool, const struct io_reader_source *src,
                                void (*ready)(void *arg), void *arg);
/*
 * The next octets: 1 with p and n set (n 0: the end, everything was
 * read), 0 when the next piece is still being read (ready() follows), -1
 * with errno when reading failed.
 */
int io_reader_peek(struct io_reader *r, const char **p, size_t *n);
/* The first n octets of the last peek were used. */
void io_reader_consume(struct io_reader *r, size_t n);
/* Stop. A read in flight finishes on its worker; then the memory and the
 * descriptor go. ready() is never called after this. NULL is fine. */
void io_reader_free(struct io_reader *r);

#endif
