/*
 * dkim_cmd — what the files of `tern dkim` share: the subcommands
 * (keygen in dkim_cmd.c; sign and verify, the debugging aids, in
 * dkim_cmd_debug.c) and the exit statuses they use.
 */
#ifndef TERN_DKIM_CMD_H
#define TERN_DKIM_CMD_H

#include <stddef.h>

/* A message read whole by the debugging aids, at most this much. */
#define DKIM_CMD_MESSAGE_MAX (64 * 1024 * 1024)

int dkim_cmd_keygen(int argc, char **argv);
int dkim_cmd_sign(int argc, char **argv);
int dkim_cmd_verify(int argc, char **argv);

/* Read all of standard input (at most DKIM_CMD_MESSAGE_MAX) into a
 * fresh allocation, *out owned by the caller. 0 / -1 with a message
 * printed. */
int dkim_cmd_read_stdin(const char *face, char **out, size_t *len);

#endif
