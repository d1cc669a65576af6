/*
 * fuzz_conf — the configuration parser on arbitrary files (it must answer
 * FILE:LINE: message, never crash, never leak). The users file named by a
 * `users` line points at the same directory, so it can be reached too.
 */
#include <stdint.h>

#include "conf/conf.h"
#include "fuzz_file_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the first half is the configuration, the rest a users file */
	size_t half = size / 2;
	fuzz_file_write("tern.conf", data, half);
	fuzz_file_write("users", data + half, size - half);
	char path[512], err[1024];
	snprintf(path, sizeof path, "%s/tern.conf", fuzz_file_tmpdir());
	struct conf c;
	if (conf_load(path, &c, err, sizeof err) == 0)
		conf_free(&c);
	else if (strncmp(err, fuzz_file_tmpdir(), strlen(fuzz_file_tmpdir())) != 0)
		abort(); /* every error names its file (the configuration or the users file) */
	return 0;
}
