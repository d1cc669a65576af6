/*
 * smtpc — see smtpc.h. Owns nothing: the connection and the engine are
 * the caller's.
 */
#include "mta/smtpc.h"

void smtpc_flush(struct io_conn *io, struct smtp_client *cli)
{
	if (cli->out.len) {
		io_conn_write(io, cli->out.data, cli->out.len);
		buf_reset(&cli->out);
	}
}

enum smtpc_next smtpc_step(struct io_conn *io, struct smtp_client *cli, const struct smtpc_step *st)
{
	while (!smtp_client_is_closed(cli) && !smtp_client_wants_tls(cli)) {
		const char *p;
		size_t n = io_conn_input(io, &p, 0);
		if (n == 0)
			break;
		size_t k = smtp_client_feed(cli, p, n);
		io_conn_consume(io, k);
		if (k < n)
			break;
	}
	if (smtp_client_wants_tls(cli) && !io_conn_is_tls(io)) {
		/* Whatever else is buffered is dropped by the TLS start
		 * (plaintext injection, RFC 3207 5). */
		smtpc_flush(io, cli);
		return SMTPC_TLS;
	}
	if (st->txn && smtp_client_is_ready(cli) && !*st->txn_started) {
		*st->txn_started = true;
		smtp_client_send(cli, st->txn);
	}
	if (st->content && smtp_client_wants_content(cli))
		st->content(st->arg);
	smtpc_flush(io, cli);
	if (smtp_client_is_closed(cli))
		return SMTPC_CLOSED;
	if (st->keep_timeouts)
		return SMTPC_WAIT;
	unsigned t = smtp_client_timeout(cli);
	io_conn_set_timeout(io, t ? t : SMTP_CLIENT_TIMEOUT_MAIL, st->write_timeout);
	return SMTPC_WAIT;
}
