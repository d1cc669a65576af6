/*
 * dns — asynchronous DNS through c-ares in the event loop: MX records
 * (RFC 5321 5.1), a host's addresses, reverse names, and single
 * questions of the types SPF reads (io_dns_lookup). Only this file pair
 * knows c-ares.
 */
#ifndef TERN_DNS_H
#define TERN_DNS_H

#include <stddef.h>
#include <sys/socket.h>

struct io_loop;
struct io_dns;

enum io_dns_status {
	IO_DNS_OK = 0,
	IO_DNS_NODATA,    /* the name exists, no record of that type */
	IO_DNS_NXDOMAIN,  /* the name does not exist: permanent */
	IO_DNS_TEMPFAIL,  /* SERVFAIL, timeout, refused: try later */
};

#define IO_DNS_MAX_MX 16
#define IO_DNS_MAX_ADDRS 16

struct io_dns_mx {
	char host[256];   /* "" for a null MX (RFC 7505) */
	unsigned short pref;
};

/* server: "ADDR:PORT" / "[V6]:PORT", or NULL for /etc/resolv.conf. */
struct io_dns *io_dns_new(struct io_loop *l, const char *server, char *err, size_t errlen);
void io_dns_free(struct io_dns *d);

/* MX records sorted by preference, equal preferences shuffled. */
typedef void (*io_dns_mx_cb)(void *arg, enum io_dns_status st, const struct io_dns_mx *mx, size_t n);
void io_dns_mx(struct io_dns *d, const char *domain, io_dns_mx_cb cb, void *arg);

/* IPv6 and IPv4 addresses of host (port left 0). */
typedef void (*io_dns_addr_cb)(void *arg, enum io_dns_status st, const struct sockaddr_storage *a, size_t n);
void io_dns_addr(struct io_dns *d, const char *host, io_dns_addr_cb cb, void *arg);

/* The PTR name of an address (RFC 1035 3.5), "" when there is none. */
typedef void (*io_dns_ptr_cb)(void *arg, enum io_dns_status st, const char *name);
void io_dns_ptr(struct io_dns *d, const struct sockaddr *sa, io_dns_ptr_cb cb, void *arg);

/*
 * One question of one type, for engines that read the records
 * themselves (the SPF engine, proto/spf.h). The callback gets every
 * record of the type asked in the answer section (the server follows
 * CNAMEs), at most IO_DNS_MAX_RRS: A as 4 octets, AAAA as 16, TXT as
 * the character-strings of one record joined (RFC 7208 3.3), MX as the
 * exchange's name without its preference ("" for a null MX, RFC 7505),
 * PTR as the name. A name c-ares cannot encode is NXDOMAIN: it cannot
 * exist. The records live until the callback returns. Bounded in time
 * by the channel's timeout and tries (3 s, 2).
 */
enum io_dns_type {
	IO_DNS_A,
	IO_DNS_AAAA,
	IO_DNS_TXT,
	IO_DNS_MX,
	IO_DNS_PTR,
};
#define IO_DNS_MAX_RRS 64

struct io_dns_rr {
	const unsigned char *data;
	size_t len;
};
typedef void (*io_dns_rr_cb)(void *arg, enum io_dns_status st, const struct io_dns_rr *rr, size_t n);
void io_dns_lookup(struct io_dns *d, const char *name, enum io_dns_type type, io_dns_rr_cb cb, void *arg);

#endif
