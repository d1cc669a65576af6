/*
 * fuzz_smtp_server — whole dialogues into the SMTP server engine, split
 * into reads at positions taken from the input, with stub operations
 * (commits answered at once). Replies are taken from `out` after each
 * feed, as the glue sends them. Checks that a read is consumed unless the
 * session closed or its replies reached SMTP_SERVER_OUT_PAUSE (and then
 * that it goes on once they were sent), that `out` never holds more than
 * the pause and one reply, and that replies are CR LF terminated lines.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/smtp_server.h"

static struct smtp_server *fuzz_eng;

static enum smtp_reply_id fuzz_rcpt(void *ctx, const struct smtp_addr *to)
{
	(void)ctx;
	return to->local[0] == 'x' ? SMTP_R_USER_UNKNOWN : SMTP_R_RCPT_OK;
}

static int fuzz_write(void *ctx, const char *p, size_t n)
{
	(void)ctx;
	(void)p;
	return n > 100000 ? -1 : 0;
}

static void fuzz_commit(void *ctx, const struct smtp_data *d)
{
	(void)ctx;
	(void)d;
	smtp_server_commit_done(fuzz_eng, SMTP_R_OK, "ID");
}

static const struct smtp_server_ops fuzz_ops = {
	.rcpt = fuzz_rcpt,
	.data_write = fuzz_write,
	.data_commit = fuzz_commit,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_server eng;
	struct smtp_server_config cfg = {.hostname = "fuzz.test", .max_size = 4096};
	smtp_server_init(&eng, &cfg, &fuzz_ops, NULL);
	fuzz_eng = &eng;
	smtp_server_greet(&eng);
	size_t step = size ? (size_t)(data[0] % 64) + 1 : 1;
	size_t pos = 0;
	while (pos < size) {
		size_t n = size - pos < step ? size - pos : step;
		size_t k = smtp_server_feed(&eng, (const char *)data + pos, n);
		if (eng.out.len > SMTP_SERVER_OUT_PAUSE + 1024)
			abort();
		if (eng.out.len && (eng.out.len < 2 || memcmp(eng.out.data + eng.out.len - 2, "\r\n", 2) != 0))
			abort();
		bool paused = eng.out.len >= SMTP_SERVER_OUT_PAUSE;
		buf_reset(&eng.out); /* sent */
		if (smtp_server_is_closed(&eng))
			break;
		if (k < n && !paused)
			abort();
		pos += k;
	}
	smtp_server_free(&eng);
	return 0;
}
