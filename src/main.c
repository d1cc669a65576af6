/*
 * main — dispatch on the name the binary was invoked by (sendmail, mailq)
 * or on the subcommand.
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "cmd/cmd.h"

static const struct {
	const char *name;
	int (*fn)(int, char **);
} main_faces[] = {
	{"serve", cmd_serve},   {"send", cmd_send},     {"sendmail", cmd_sendmail},
	{"queue", cmd_queue},   {"check", cmd_check},   {"passwd", cmd_passwd},
	{"version", cmd_version}, {"auth", cmd_auth}, {"dkim", cmd_dkim},
};

static void main_usage(void)
{
	fputs("usage: tern serve [-c FILE]\n"
	      "       tern send [OPTIONS] [RCPT...] < message\n"
	      "       tern sendmail [-C FILE] [-t] [-i] [-f SENDER] [-F NAME] [RCPT...]\n"
	      "       tern queue [-c FILE] [list [--json] | show ID | flush | delete ID]\n"
	      "       tern check [-c FILE]\n"
	      "       tern passwd\n"
	      "       tern auth spf [-c FILE] [--dns ADDR:PORT] IP MAIL-FROM [HELO]\n"
	      "       tern dkim keygen DOMAIN [--selector NAME] [--algorithm rsa|ed25519] [--bits N] [--out FILE]\n"
	      "       tern version\n",
	      stderr);
}

int main(int argc, char **argv)
{
	const char *self = argc > 0 ? strrchr(argv[0], '/') : NULL;
	self = self ? self + 1 : (argc > 0 ? argv[0] : "tern");
	if (strcmp(self, "sendmail") == 0 || strncmp(self, "sendmail.", 9) == 0)
		return cmd_sendmail(argc, argv);
	if (strcmp(self, "mailq") == 0 || strncmp(self, "mailq.", 6) == 0)
		return cmd_queue(argc, argv);
	if (argc < 2) {
		main_usage();
		return EX_USAGE;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
		return cmd_version(argc - 1, argv + 1);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		main_usage();
		return 0;
	}
	for (size_t i = 0; i < sizeof main_faces / sizeof main_faces[0]; i++)
		if (strcmp(argv[1], main_faces[i].name) == 0)
			return main_faces[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "tern: unknown command '%s'\n", argv[1]);
	main_usage();
	return EX_USAGE;
}
