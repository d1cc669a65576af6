/*
 * check — `tern check [-c FILE]` (CONTRACT.md): load the configuration
 * the way `tern serve` would, print it with every default filled in, or
 * print the first error as "FILE:LINE: message" and exit 78 (EX_CONFIG).
 * Reads the users file too, so a bad account line is found here first.
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "conf/conf.h"
#include "mta/signer.h"

static int cmd_check_usage(void)
{
	fputs("usage: tern check [-c FILE]\n", stderr);
	return EX_USAGE;
}

int cmd_check(int argc, char **argv)
{
	const char *explicit_path = NULL, *path;
	struct conf c;
	char err[1024];
	bool must_exist;
	int opt, r;

	optind = 1;
	opterr = 0;
	while ((opt = getopt(argc, argv, ":c:h")) != -1) {
		switch (opt) {
		case 'c':
			explicit_path = optarg;
			break;
		case 'h':
			fputs("usage: tern check [-c FILE]\n", stdout);
			return 0;
		case ':':
			fputs("tern check: -c needs a FILE\n", stderr);
			return cmd_check_usage();
		default:
			fprintf(stderr, "tern check: unknown option '-%c'\n", optopt);
			return cmd_check_usage();
		}
	}
	if (optind != argc)
		return cmd_check_usage();

	/* A file named by -c or TERN_CONFIG that is missing fails in
	 * conf_load like any unreadable file: "FILE: No such file ...". */
	path = conf_choose_path(explicit_path, &must_exist);
	r = conf_load_chosen(path, 0, &c, err, sizeof err);
	if (r < 0) {
		fprintf(stderr, "%s\n", err);
		return EX_CONFIG;
	}
	/* The DKIM keys are read as tern serve reads them: a key that would
	 * stop the server is reported here. */
	struct signer *keys = signer_load(&c, err, sizeof err);
	if (keys == NULL) {
		fprintf(stderr, "%s\n", err);
		conf_free(&c);
		return EX_CONFIG;
	}
	signer_free(keys);
	conf_print(&c, stdout);
	conf_free(&c);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("tern check: stdout");
		return EX_IOERR;
	}
	return 0;
}
