/*
 * cmd — the command faces of the one tern binary (CONTRACT.md). Each
 * returns the process exit status; argv[0] is the face's name.
 */
#ifndef TERN_CMD_H
#define TERN_CMD_H

int cmd_serve(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_sendmail(int argc, char **argv);
int cmd_queue(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_passwd(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_auth(int argc, char **argv);
int cmd_dkim(int argc, char **argv);

#define TERN_VERSION "0.1.0"

#endif
