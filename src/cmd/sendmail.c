/* cmd_sendmail — not built yet: the face exists so scripts get a clear answer. */
#include <stdio.h>
#include <sysexits.h>

#include "cmd/cmd.h"

int cmd_sendmail(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fputs("tern: this command is not implemented yet\n", stderr);
	return EX_UNAVAILABLE;
}
