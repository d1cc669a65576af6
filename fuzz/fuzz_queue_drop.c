/*
 * fuzz_queue_drop — the reader of `tern sendmail` drop files, which are
 * hostile input from local users, on arbitrary files.
 */
#include <stdint.h>

#include "fuzz_file_common.h"
#include "queue/queue_drop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_file_write("queue/drop/D1", data, size);
	struct queue_drop d;
	if (queue_drop_open(fuzz_file_tmpdir(), "D1", 1 << 20, &d) == 0)
		queue_drop_close(&d);
	return 0;
}
