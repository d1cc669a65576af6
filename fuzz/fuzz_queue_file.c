/*
 * fuzz_queue_file — the queue file reader (queue_load) on arbitrary
 * files: a torn or forged file must be refused cleanly, and a file it
 * accepts must add up (content inside the file).
 */
#include <stdint.h>

#include "fuzz_file_common.h"
#include "queue/queue_store.h"

#define FUZZ_ID "0HOL00000000000"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_file_write("queue/msg/" FUZZ_ID, data, size);
	static struct queue *q;
	if (q == NULL && (q = queue_open(fuzz_file_tmpdir())) == NULL)
		abort();
	struct queue_env env;
	if (queue_load(q, FUZZ_ID, &env) == 0) {
		if ((uint64_t)env.content_off + env.content_len > size)
			abort();
		queue_env_free(&env);
	}
	return 0;
}
