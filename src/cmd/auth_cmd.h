/*
 * auth_cmd — what the faces of `tern auth` share: the configuration, the
 * event loop and the resolver they run their checks on, set up the same
 * way for `spf` (auth_cmd.c) and `check` (auth_check.c).
 */
#ifndef TERN_AUTH_CMD_H
#define TERN_AUTH_CMD_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"

#define AUTH_CMD_ARG_MAX 1024 /* a MAIL-FROM or HELO argument */

struct io_loop;
struct io_dns;

struct auth_cmd_env {
	struct conf c;
	bool have_conf;
	struct io_loop *loop;
	struct io_dns *dns;
};

/* Load the configuration (-c, else the usual search), start a loop and a
 * resolver (--dns, else the configuration's `dns`, else the system's).
 * EX_OK, or the exit status with a message printed for `face`. */
int auth_cmd_env_open(const char *face, const char *conf_path, const char *dns_arg, struct auth_cmd_env *e);
void auth_cmd_env_close(struct auth_cmd_env *e);
/* "<addr>" or "addr" into out, without the brackets. */
void auth_cmd_strip_brackets(const char *in, char *out, size_t cap);

int auth_cmd_check(int argc, char **argv);

#endif
