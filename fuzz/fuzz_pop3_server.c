/*
 * fuzz_pop3_server — whole dialogues into the POP3 server engine, split
 * into reads at positions taken from the input, with stub operations
 * that answer at once (logins succeed for "ok@x", every retrieve is
 * streamed through the stuffing helper from a fixed message, STLS
 * completes). Checks that every read is consumed unless the engine
 * waits or closed, that replies are CR LF terminated, that the stuffed
 * output never holds a bare LF or a line "." before the end, and that
 * the measured size matches the stuffed one.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pop3_server.h"

static struct pop3_server *fuzz_eng;
static struct pop3_msg fuzz_msgs[3];
static int fuzz_pending_tls;
static long fuzz_top;
static const uint8_t *fuzz_body;
static size_t fuzz_body_len;

static void fuzz_login(void *ctx, const char *user, const char *pass)
{
	(void)ctx;
	(void)pass;
	if (strcmp(user, "ok@x") == 0) {
		memset(fuzz_msgs, 0, sizeof fuzz_msgs);
		fuzz_msgs[0].size = 10;
		memcpy(fuzz_msgs[0].uid, "u1", 3);
		fuzz_msgs[1].size = 20;
		memcpy(fuzz_msgs[1].uid, "u2", 3);
		fuzz_msgs[2].size = 30;
		memcpy(fuzz_msgs[2].uid, "u3", 3);
		pop3_server_login_done(fuzz_eng, POP3_LOGIN_OK, fuzz_msgs, 3);
	} else {
		pop3_server_login_done(fuzz_eng, user[0] == 'i' ? POP3_LOGIN_IN_USE : POP3_LOGIN_BAD, NULL, 0);
	}
}

static int fuzz_retrieve(void *ctx, size_t index, long top)
{
	(void)ctx;
	if (index >= 3)
		abort();
	fuzz_top = top;
	return index == 2 ? -1 : 0;
}

static void fuzz_update(void *ctx, const struct pop3_msg *msgs, size_t n)
{
	(void)ctx;
	(void)msgs;
	(void)n;
	pop3_server_update_done(fuzz_eng, true);
}

static void fuzz_starttls(void *ctx)
{
	(void)ctx;
	fuzz_pending_tls = 1;
}

static const struct pop3_server_ops fuzz_ops = {
	.login = fuzz_login,
	.retrieve = fuzz_retrieve,
	.update = fuzz_update,
	.starttls = fuzz_starttls,
};

/* What the engine holds for the client: whole CR LF lines, never more
 * than the pause and one line. */
static void fuzz_check_out(const struct pop3_server *eng)
{
	if (eng->out.len > POP3_SERVER_OUT_PAUSE + 1024)
		abort();
	if (eng->out.len && (eng->out.len < 2 || memcmp(eng->out.data + eng->out.len - 2, "\r\n", 2) != 0))
		abort();
}

/* Send the input's tail as the message, as the glue would, and check it. */
static void fuzz_send(void)
{
	struct buf out;
	buf_init(&out, 0);
	struct pop3_stuff st;
	pop3_server_stuff_init(&st, fuzz_top);
	struct pop3_measure m;
	pop3_server_measure_init(&m);
	size_t step = fuzz_body_len ? fuzz_body[0] % 7 + 1 : 1, used = 0;
	while (used < fuzz_body_len && !st.done) {
		size_t k = fuzz_body_len - used < step ? fuzz_body_len - used : step;
		long r = pop3_server_stuff(&st, (const char *)fuzz_body + used, k, &out);
		if (r < 0 || (size_t)r > k || ((size_t)r < k && !st.done))
			abort();
		pop3_server_measure(&m, (const char *)fuzz_body + used, (size_t)r);
		used += (size_t)r;
	}
	size_t before_end = out.len;
	if (pop3_server_stuff_end(&st, &out) < 0)
		abort();
	uint64_t size = pop3_server_measure_end(&m);
	/* Every LF is preceded by CR; no line is "." before the terminator;
	 * the size equals the output without the added dots and ".\r\n". */
	size_t dots = 0;
	for (size_t i = 0; i < out.len; i++) {
		if (out.data[i] == '\n' && (i == 0 || out.data[i - 1] != '\r'))
			abort();
		if ((i == 0 || out.data[i - 1] == '\n') && out.data[i] == '.' && i + 3 < out.len) {
			if (i + 1 >= out.len || out.data[i + 1] != '.')
				abort();
			dots++;
		}
	}
	(void)before_end;
	if (out.len < 3 || memcmp(out.data + out.len - 3, ".\r\n", 3) != 0)
		abort();
	if (fuzz_top < 0 && size != out.len - 3 - dots)
		abort();
	buf_free(&out);
	pop3_server_retrieve_done(fuzz_eng, true);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pop3_server eng;
	struct pop3_server_config cfg = {.tls_available = true, .loopback = size && (data[0] & 1)};
	pop3_server_init(&eng, &cfg, &fuzz_ops, NULL);
	fuzz_eng = &eng;
	fuzz_pending_tls = 0;
	/* The second half of the input doubles as the message content. */
	fuzz_body = data + size / 2;
	fuzz_body_len = size - size / 2;
	pop3_server_greet(&eng);
	size_t step = size ? (size_t)(data[0] % 64) + 1 : 1;
	size_t pos = 0;
	while (pos < size && !pop3_server_is_closed(&eng)) {
		size_t n = size - pos < step ? size - pos : step;
		size_t k = pop3_server_feed(&eng, (const char *)data + pos, n);
		pos += k;
		fuzz_check_out(&eng);
		bool paused = eng.out.len >= POP3_SERVER_OUT_PAUSE;
		buf_reset(&eng.out); /* sent, as the glue would */
		if (k < n) {
			if (eng.state == POP3_S_SENDING)
				fuzz_send();
			else if (eng.state == POP3_S_TLS && fuzz_pending_tls) {
				fuzz_pending_tls = 0;
				pop3_server_tls_done(&eng);
			} else if (eng.state == POP3_S_LISTING) {
				/* produced as the client reads it, a part at a time */
				while (pop3_server_produce(&eng)) {
					fuzz_check_out(&eng);
					buf_reset(&eng.out);
				}
				if (eng.state == POP3_S_LISTING)
					abort();
			} else if (!paused && !pop3_server_is_closed(&eng)) {
				abort();
			}
		}
	}
	if (eng.state == POP3_S_SENDING)
		fuzz_send();
	if (eng.out.len && (eng.out.len < 2 || memcmp(eng.out.data + eng.out.len - 2, "\r\n", 2) != 0))
		abort();
	pop3_server_free(&eng);
	return 0;
}
