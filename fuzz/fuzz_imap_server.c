/*
 * fuzz_imap_server — whole dialogues into the IMAP engine over the
 * in-memory store of the unit tests (logins succeed with the password
 * "secret", INBOX holds two messages, one of them multipart), fed in
 * reads whose sizes come from the input. Checks that the engine never
 * stalls with input left while it says it is idle, that what it sends
 * is bounded and made of CR LF lines, and that every folder it opened
 * is closed again.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/unit/imap_fake_store.h"

static const char fuzz_msg1[] = "From: A <a@x>\nTo: b@y\nSubject: s\nDate: Tue, 14 Nov 2023 22:13:20 +0000\n\nbody\n";
static const char fuzz_msg2[] = "From: c@x\nContent-Type: multipart/mixed; boundary=B\n\n--B\n"
                                "Content-Type: text/plain\n\nneedle\n--B\nContent-Type: message/rfc822\n\n"
                                "Subject: in\n\ninner\n--B--\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static struct fake t;
	struct imap_server_config cfg = {
		.tls_available = data[0] & 1,
		.tls_active = (data[0] & 2) != 0,
		.loopback = (data[0] & 4) != 0,
		.compress_available = (data[0] & 8) != 0,
		.appendlimit = 100000,
	};
	size_t step = (data[0] >> 4) + 1;
	fake_init(&t, &cfg);
	t.max_append = 100000;
	struct fake_folder *in = fake_folder(&t, "INBOX");
	fake_deliver(in, fuzz_msg1, sizeof fuzz_msg1 - 1, 0, 1700000000);
	fake_deliver(in, fuzz_msg2, sizeof fuzz_msg2 - 1, IMAP_FLAG_SEEN, 1700003600);
	imap_server_greet(&t.s);
	fake_take_out(&t);
	const char *p = (const char *)data + 1;
	size_t n = size - 1;
	for (size_t off = 0; off < n && !imap_server_is_closed(&t.s);) {
		size_t k = n - off < step ? n - off : step;
		fake_feed(&t, p + off, k);
		off += k;
		if (t.s.state != IMAP_S_SELECTED && t.s.state != IMAP_S_LOGOUT && t.s.box != NULL)
			abort();
		if (t.got.len > IMAP_SERVER_OUT_MAX)
			abort();
		buf_reset(&t.got);
	}
	if (imap_server_in_idle(&t.s))
		imap_server_notify(&t.s);
	fake_feed(&t, "", 0);
	fake_free(&t);
	if (t.opens != t.closes)
		abort();
	return 0;
}
