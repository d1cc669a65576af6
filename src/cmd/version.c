/*
 * version — `tern version` (also `tern --version`): the version line.
 */
#include <stdio.h>
#include <sysexits.h>

#include "cmd/cmd.h"

int cmd_version(int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		fputs("usage: tern version\n", stderr);
		return EX_USAGE;
	}
	if (puts("tern " TERN_VERSION) == EOF || fflush(stdout) != 0)
		return EX_IOERR;
	return 0;
}
