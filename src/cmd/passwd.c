/*
 * passwd — `tern passwd [ADDRESS]` (CONTRACT.md): read a password and
 * print a yescrypt hash for the users file, or "ADDRESS:HASH" when an
 * address is given.
 *
 * On a terminal the password is asked twice with echo off; from a pipe
 * one line is read. The password is read with read(2) into fixed buffers,
 * never through stdio, so that no copy outlives the explicit_bzero at the
 * end. Exit: 0, 64 usage, 65 empty/mismatched/unusable password, 70 when
 * libcrypt fails, 74 on a read or write error.
 */
#include <crypt.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <termios.h>
#include <unistd.h>

#include "cmd/cmd.h"

/* libxcrypt refuses longer passphrases (the limit counts the NUL) */
#define CMD_PASSWD_MAX CRYPT_MAX_PASSPHRASE_SIZE

enum cmd_passwd_read {
	CMD_PASSWD_READ_OK,
	CMD_PASSWD_READ_ERROR,    /* errno set */
	CMD_PASSWD_READ_TOO_LONG,
	CMD_PASSWD_READ_NUL,      /* crypt(3) would silently cut the password there */
};

/* The terminal settings to restore if a signal arrives while echo is off. */
static struct termios cmd_passwd_saved;
static volatile sig_atomic_t cmd_passwd_echo_off;

static void cmd_passwd_signal_cb(int sig)
{
	if (cmd_passwd_echo_off)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &cmd_passwd_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

static int cmd_passwd_usage(FILE *f, int status)
{
	fputs("usage: tern passwd [ADDRESS] < password\n"
	      "prints a hash line for the users file (ADDRESS:HASH with an address)\n",
	      f);
	return status;
}

/*
 * One line from fd into buf (cap bytes with the NUL), the line end and a
 * trailing CR removed. A too long line is read to its end anyway, so the
 * rest does not stay in the terminal's input.
 */
static enum cmd_passwd_read cmd_passwd_read_line(int fd, char *buf, size_t cap)
{
	enum cmd_passwd_read r = CMD_PASSWD_READ_OK;
	size_t n = 0;
	for (;;) {
		char ch;
		ssize_t got = read(fd, &ch, 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = CMD_PASSWD_READ_ERROR;
			break;
		}
		if (got == 0 || ch == '\n')
			break;
		if (ch == '\0' && r == CMD_PASSWD_READ_OK)
			r = CMD_PASSWD_READ_NUL;
		if (n + 1 < cap)
			buf[n++] = ch;
		else if (r == CMD_PASSWD_READ_OK)
			r = CMD_PASSWD_READ_TOO_LONG;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return r;
}

/* Prompt on stderr (stdout carries the hash) and read with echo off. */
static enum cmd_passwd_read cmd_passwd_prompt(const char *prompt, char *buf, size_t cap)
{
	struct termios t;
	enum cmd_passwd_read r;
	fputs(prompt, stderr);
	fflush(stderr);
	if (tcgetattr(STDIN_FILENO, &cmd_passwd_saved) < 0)
		return CMD_PASSWD_READ_ERROR;
	t = cmd_passwd_saved;
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
	t.c_lflag |= ECHONL;
	cmd_passwd_echo_off = 1;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) < 0) {
		cmd_passwd_echo_off = 0;
		return CMD_PASSWD_READ_ERROR;
	}
	r = cmd_passwd_read_line(STDIN_FILENO, buf, cap);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &cmd_passwd_saved);
	cmd_passwd_echo_off = 0;
	return r;
}

/* Report a failed read; returns the exit status. */
static int cmd_passwd_read_failed(enum cmd_passwd_read r)
{
	switch (r) {
	case CMD_PASSWD_READ_TOO_LONG:
		fprintf(stderr, "tern passwd: password too long (at most %d bytes)\n", CMD_PASSWD_MAX - 1);
		return EX_DATAERR;
	case CMD_PASSWD_READ_NUL:
		fputs("tern passwd: password contains a NUL byte\n", stderr);
		return EX_DATAERR;
	default:
		perror("tern passwd: reading the password");
		return EX_IOERR;
	}
}

/* A users-file login: local@domain, nothing that would break the line. */
static bool cmd_passwd_address_ok(char *a)
{
	const char *at = strrchr(a, '@');
	if (at == NULL || at == a || at[1] == '\0')
		return false;
	for (char *p = a; *p; p++) {
		if ((unsigned char)*p <= ' ' || *p == ':' || *p == '#' || *p == 0x7f)
			return false;
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	}
	return true;
}

/* Hash pw with a fresh yescrypt salt and print the line. Returns the exit status. */
static int cmd_passwd_hash(const char *pw, const char *address)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	const char *hash;
	int status = 0;

	/* count 0: libxcrypt's default cost; NULL rbytes: it asks the kernel */
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, setting, (int)sizeof setting) == NULL) {
		perror("tern passwd: cannot make a salt");
		return EX_SOFTWARE;
	}
	if ((cd = calloc(1, sizeof *cd)) == NULL) {
		perror("tern passwd");
		return EX_OSERR;
	}
	hash = crypt_rn(pw, setting, cd, (int)sizeof *cd);
	if (hash == NULL || hash[0] == '*') {
		perror("tern passwd: crypt failed");
		status = EX_SOFTWARE;
	} else {
		if (address != NULL)
			printf("%s:%s\n", address, hash);
		else
			printf("%s\n", hash);
		if (fflush(stdout) != 0 || ferror(stdout)) {
			perror("tern passwd: stdout");
			status = EX_IOERR;
		}
	}
	/* crypt_data holds the passphrase's intermediate state */
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return status;
}

int cmd_passwd(int argc, char **argv)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGTSTP};
	char pw[CMD_PASSWD_MAX], again[CMD_PASSWD_MAX];
	char *address = NULL;
	enum cmd_passwd_read r;
	int opt, status;

	optind = 1;
	opterr = 0;
	while ((opt = getopt(argc, argv, "h")) != -1) {
		if (opt == 'h')
			return cmd_passwd_usage(stdout, 0);
		fprintf(stderr, "tern passwd: unknown option '-%c'\n", optopt);
		return cmd_passwd_usage(stderr, EX_USAGE);
	}
	if (argc - optind > 1)
		return cmd_passwd_usage(stderr, EX_USAGE);
	if (argc - optind == 1) {
		address = argv[optind];
		if (!cmd_passwd_address_ok(address)) {
			fprintf(stderr, "tern passwd: invalid address '%s' (local@domain expected)\n", address);
			return EX_USAGE;
		}
	}

	if (isatty(STDIN_FILENO)) {
		/* never leave the terminal without echo, whatever interrupts us */
		for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
			signal(sigs[i], cmd_passwd_signal_cb);
		r = cmd_passwd_prompt("Password: ", pw, sizeof pw);
		if (r == CMD_PASSWD_READ_OK && pw[0] != '\0')
			r = cmd_passwd_prompt("Retype password: ", again, sizeof again);
		else
			again[0] = '\0';
		for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
			signal(sigs[i], SIG_DFL);
	} else {
		r = cmd_passwd_read_line(STDIN_FILENO, pw, sizeof pw);
		memcpy(again, pw, strlen(pw) + 1);
	}

	if (r != CMD_PASSWD_READ_OK) {
		status = cmd_passwd_read_failed(r);
	} else if (pw[0] == '\0') {
		fputs("tern passwd: empty password refused\n", stderr);
		status = EX_DATAERR;
	} else if (strcmp(pw, again) != 0) {
		fputs("tern passwd: the passwords do not match\n", stderr);
		status = EX_DATAERR;
	} else {
		status = cmd_passwd_hash(pw, address);
	}
	explicit_bzero(pw, sizeof pw);
	explicit_bzero(again, sizeof again);
	return status;
}
