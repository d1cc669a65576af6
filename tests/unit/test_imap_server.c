/*
 * test_imap_server — the IMAP engine in dialogues: commands in, replies
 * out, over the in-memory store of imap_fake_store.h. What a client
 * relies on is checked line by line; the store itself is tested in
 * test_store.c and against real clients in the integration tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_fake_store.h"

static const char msg1[] = "From: Alice <alice@example.org>\n"
                           "To: bob@example.org\n"
                           "Subject: hello\n"
                           "Date: Tue, 14 Nov 2023 22:13:20 +0000\n"
                           "Message-ID: <1@example.org>\n"
                           "\n"
                           "first line\n"
                           "second line\n";

static const char msg2[] = "From: carol@example.net\n"
                           "To: bob@example.org\n"
                           "Subject: =?utf-8?q?caf=C3=A9?=\n"
                           "MIME-Version: 1.0\n"
                           "Content-Type: multipart/mixed; boundary=XX\n"
                           "\n"
                           "--XX\n"
                           "Content-Type: text/plain\n"
                           "\n"
                           "body with needle inside\n"
                           "--XX\n"
                           "Content-Type: application/octet-stream\n"
                           "Content-Transfer-Encoding: base64\n"
                           "\n"
                           "AAEC\n"
                           "--XX--\n";

struct t {
	struct fake f;
	size_t mark;
};

static struct t *T;

static int setup_cfg(void **state, bool loopback, bool tls)
{
	T = calloc(1, sizeof *T);
	struct imap_server_config cfg = {
		.tls_available = tls,
		.loopback = loopback,
		.appendlimit = 1000000,
	};
	fake_init(&T->f, &cfg);
	struct fake_folder *in = fake_folder(&T->f, "INBOX");
	fake_deliver(in, msg1, strlen(msg1), 0, 1700000000);
	fake_deliver(in, msg2, strlen(msg2), IMAP_FLAG_SEEN, 1700003600);
	imap_server_greet(&T->f.s);
	fake_take_out(&T->f);
	*state = T;
	return 0;
}
static int setup(void **state)
{
	return setup_cfg(state, true, true);
}
static int setup_remote(void **state)
{
	return setup_cfg(state, false, true);
}
static int teardown(void **state)
{
	(void)state;
	fake_free(&T->f);
	free(T);
	return 0;
}

/* Send text; return what came back since the last call (NUL-terminated). */
static const char *say(const char *text)
{
	T->mark = T->f.got.len;
	fake_feed(&T->f, text, strlen(text));
	buf_putc(&T->f.got, '\0');
	T->f.got.len--;
	return T->f.got.data + T->mark;
}

#define HAS(out, s)                                                                                                    \
	do {                                                                                                           \
		if (strstr((out), (s)) == NULL)                                                                        \
			fail_msg("expected \"%s\" in:\n%s", (s), (out));                                               \
	} while (0)
#define HASNT(out, s)                                                                                                  \
	do {                                                                                                           \
		if (strstr((out), (s)) != NULL)                                                                        \
			fail_msg("did not expect \"%s\" in:\n%s", (s), (out));                                         \
	} while (0)

/* head, n octets of 'x' (CR LF inside, as a message has), tail. */
static char *with_literal(const char *head, size_t n, const char *tail)
{
	size_t h = strlen(head), tl = strlen(tail);
	char *p = malloc(h + n + tl + 1);
	memcpy(p, head, h);
	for (size_t i = 0; i < n; i++)
		p[h + i] = i % 80 == 78 ? '\r' : i % 80 == 79 ? '\n' : 'x';
	memcpy(p + h + n, tail, tl + 1);
	return p;
}

static void login(void)
{
	HAS(say("l1 LOGIN bob secret\r\n"), "l1 OK");
}
static void select_inbox(void)
{
	login();
	HAS(say("s1 SELECT INBOX\r\n"), "s1 OK [READ-WRITE]");
}

static void test_greeting_and_capability(void **state)
{
	(void)state;
	HAS(T->f.got.data, "* OK [CAPABILITY IMAP4rev1 IMAP4rev2");
	const char *o = say("a CAPABILITY\r\n");
	HAS(o, "* CAPABILITY IMAP4rev1 IMAP4rev2");
	HAS(o, "STARTTLS");
	HAS(o, "AUTH=PLAIN");
	HAS(o, "LITERAL+");
	HASNT(o, "LOGINDISABLED");
	HAS(o, "a OK");
}

static void test_logindisabled_off_loopback(void **state)
{
	(void)state;
	const char *o = say("a CAPABILITY\r\n");
	HAS(o, "LOGINDISABLED");
	HASNT(o, "AUTH=PLAIN");
	o = say("b LOGIN bob secret\r\n");
	HAS(o, "b NO [PRIVACYREQUIRED]");
	o = say("c STARTTLS\r\n");
	HAS(o, "c OK");
	assert_true(T->f.tls_on);
	o = say("d CAPABILITY\r\n");
	HASNT(o, "LOGINDISABLED");
	HASNT(o, "STARTTLS");
	HAS(o, "AUTH=PLAIN");
	HAS(say("e LOGIN bob secret\r\n"), "e OK");
}

static void test_starttls_drops_pipelined_plaintext(void **state)
{
	(void)state;
	/* A command pipelined after STARTTLS in plaintext must not run. */
	const char *o = say("c STARTTLS\r\nx LOGIN bob secret\r\n");
	HAS(o, "c OK");
	HASNT(o, "x OK");
	assert_false(imap_server_logged_in(&T->f.s));
}

static void test_login_failures(void **state)
{
	(void)state;
	HAS(say("a LOGIN bob wrong\r\n"), "a NO [AUTHENTICATIONFAILED]");
	HAS(say("b LOGIN \"bob\" {6+}\r\nsecret\r\n"), "b OK");
	assert_string_equal(T->f.user, "bob");
	HAS(say("c LOGIN bob secret\r\n"), "c BAD");
}

static void test_authenticate_plain(void **state)
{
	(void)state;
	/* "\0bob\0secret" */
	HAS(say("a AUTHENTICATE PLAIN AGJvYgBzZWNyZXQ=\r\n"), "a OK");
	assert_true(imap_server_logged_in(&T->f.s));
}

static void test_authenticate_continuation(void **state)
{
	(void)state;
	const char *o = say("a AUTHENTICATE PLAIN\r\n");
	HAS(o, "+ ");
	HAS(say("*\r\n"), "a BAD");
	o = say("b AUTHENTICATE PLAIN\r\n");
	HAS(o, "+ ");
	HAS(say("AGJvYgBzZWNyZXQ=\r\n"), "b OK");
}

static void test_list_and_special_use(void **state)
{
	(void)state;
	login();
	const char *o = say("a LIST \"\" \"*\"\r\n");
	HAS(o, "* LIST (");
	HAS(o, "\".\" INBOX\r\n");
	HAS(o, "* LIST (\\HasNoChildren \\Sent) \".\" Sent\r\n"); /* attributes apart */
	HAS(o, "a OK");
	o = say("b LIST \"\" \"\"\r\n");
	HAS(o, "* LIST (\\Noselect) \".\" \"\"");
	o = say("c CREATE Work.Projects\r\n");
	HAS(o, "c OK");
	o = say("d LIST \"\" Work.%\r\n");
	HAS(o, "Work.Projects");
	o = say("e CREATE INBOX\r\n");
	HAS(o, "e NO");
	o = say("f DELETE INBOX\r\n");
	HAS(o, "f NO");
	o = say("g CREATE ../etc\r\n");
	HAS(o, "g NO");
	o = say("h LIST (SPECIAL-USE) \"\" *\r\n");
	HAS(o, "\\Sent");
	HASNT(o, "Work.Projects");
}

static void test_select_lines(void **state)
{
	(void)state;
	login();
	const char *o = say("a SELECT INBOX\r\n");
	HAS(o, "* 2 EXISTS\r\n");
	HAS(o, "* FLAGS (");
	HAS(o, "* OK [PERMANENTFLAGS (");
	HAS(o, "* OK [UIDVALIDITY 1000]");
	HAS(o, "* OK [UIDNEXT 3]");
	HAS(o, "a OK [READ-WRITE]");
	o = say("b EXAMINE INBOX\r\n");
	HAS(o, "[CLOSED]");
	HAS(o, "b OK [READ-ONLY]");
	o = say("c SELECT Nope\r\n");
	HAS(o, "c NO [NONEXISTENT]");
	assert_int_equal(T->f.s.state, IMAP_S_AUTH);
}

static void test_fetch_sizes_and_body(void **state)
{
	(void)state;
	select_inbox();
	/* msg1 has 8 lines: stored with LF, on the wire with CR LF */
	size_t wire = strlen(msg1) + 8;
	char want[64];
	snprintf(want, sizeof want, "RFC822.SIZE %zu", wire);
	const char *o = say("a FETCH 1 (RFC822.SIZE FLAGS UID)\r\n");
	HAS(o, want);
	HAS(o, "UID 1");
	HAS(o, "a OK");
	o = say("b FETCH 1 BODY.PEEK[]\r\n");
	snprintf(want, sizeof want, "BODY[] {%zu}\r\nFrom: Alice <alice@example.org>\r\n", wire);
	HAS(o, want);
	HAS(o, "second line\r\n)\r\n");
	HASNT(o, "\\Seen");
	o = say("c FETCH 1 BODY[TEXT]<6.5>\r\n");
	HAS(o, "BODY[TEXT]<6> {5}\r\nline\r");
	HAS(o, "\\Seen"); /* BODY[] without PEEK sets \Seen, and says so */
	o = say("d FETCH 1 (ENVELOPE BODYSTRUCTURE)\r\n");
	HAS(o, "ENVELOPE (\"Tue, 14 Nov 2023 22:13:20 +0000\" \"hello\"");
	HAS(o, "BODYSTRUCTURE (\"text\" \"plain\"");
	o = say("e FETCH 2 BODY.PEEK[1]\r\n");
	HAS(o, "BODY[1] {23}\r\nbody with needle inside)");
	o = say("f FETCH 2 BODY.PEEK[HEADER.FIELDS (Subject)]\r\n");
	HAS(o, "Subject: =?utf-8?q?caf=C3=A9?=\r\n\r\n");
	o = say("g FETCH 2 BODY.PEEK[9]\r\n");
	HAS(o, "BODY[9] NIL"); /* as Dovecot answers a part that does not exist */
	o = say("h FETCH 3 FLAGS\r\n");
	HAS(o, "h BAD");
	o = say("i UID FETCH 5:* FLAGS\r\n");
	HAS(o, "* 2 FETCH (UID 2 FLAGS"); /* "5:*" includes the last UID (RFC 9051 6.4.8) */
	o = say("j FETCH 1 (BODY[TEXT] BODY.PEEK[HEADER]\r\n");
	HAS(o, "j BAD");
}

static void test_nul_and_bare_lf_on_the_wire(void **state)
{
	(void)state;
	static const char m[] = "Subject: z\n\na\0b\nc\r\n";
	fake_deliver(fake_folder(&T->f, "INBOX"), m, sizeof m - 1, 0, 1700000000);
	select_inbox();
	/* a literal may hold neither NUL nor a bare LF: 0x80 and CR LF, as
	 * Dovecot sends them; the size counts what is sent */
	const char *o = say("a FETCH 3 (RFC822.SIZE BODY.PEEK[TEXT])\r\n");
	HAS(o, "RFC822.SIZE 22");
	HAS(o, "BODY[TEXT] {8}\r\na\x80" "b\r\nc\r\n)");
}

static void test_store_and_updates(void **state)
{
	(void)state;
	select_inbox();
	const char *o = say("a STORE 1 +FLAGS (\\Flagged)\r\n");
	HAS(o, "* 1 FETCH (FLAGS (\\Flagged))");
	HAS(o, "a OK");
	o = say("b STORE 1 +FLAGS.SILENT (\\Deleted)\r\n");
	HASNT(o, "FETCH");
	/* the session's own silent change is not reported back to it */
	o = say("c NOOP\r\n");
	HASNT(o, "FETCH");
	/* another session's change is */
	fake_by_uid(fake_folder(&T->f, "INBOX"), 2)->flags |= IMAP_FLAG_ANSWERED;
	fake_by_uid(fake_folder(&T->f, "INBOX"), 2)->modseq = ++fake_folder(&T->f, "INBOX")->hms;
	o = say("d NOOP\r\n");
	HAS(o, "* 2 FETCH (FLAGS (\\Answered \\Seen))");
	o = say("e STORE 1 FLAGS (foo)\r\n");
	HAS(o, "* FLAGS (");
	HAS(o, " foo");
	HAS(o, "FLAGS (foo)");
	o = say("f STORE 1 +FLAGS (\\Recent)\r\n");
	HAS(o, "f BAD");
}

static void test_condstore(void **state)
{
	(void)state;
	login();
	const char *o = say("a SELECT INBOX (CONDSTORE)\r\n");
	HAS(o, "HIGHESTMODSEQ");
	o = say("b FETCH 1:* (FLAGS) (CHANGEDSINCE 2)\r\n");
	HAS(o, "* 2 FETCH (");
	HAS(o, "MODSEQ (");
	HASNT(o, "* 1 FETCH");
	o = say("c STORE 1 (UNCHANGEDSINCE 1) +FLAGS (\\Seen)\r\n");
	HAS(o, "c OK [MODIFIED 1]");
	o = say("d STORE 1 (UNCHANGEDSINCE 99) +FLAGS (\\Seen)\r\n");
	HAS(o, "MODSEQ (");
	HAS(o, "d OK");
}

static void test_search(void **state)
{
	(void)state;
	select_inbox();
	const char *o = say("a SEARCH UNSEEN\r\n");
	HAS(o, "* SEARCH 1\r\n");
	o = say("b UID SEARCH BODY needle\r\n");
	HAS(o, "* SEARCH 2\r\n");
	o = say("c SEARCH SUBJECT \"café\"\r\n");
	HAS(o, "* SEARCH 2\r\n");
	o = say("d SEARCH RETURN (MIN MAX COUNT) ALL\r\n");
	HAS(o, "* ESEARCH (TAG \"d\") MIN 1 MAX 2 COUNT 2");
	o = say("e SEARCH RETURN (SAVE) SEEN\r\ne2 FETCH $ UID\r\n");
	HAS(o, "* 2 FETCH (UID 2)");
	o = say("f SEARCH CHARSET KOI8-R ALL\r\n");
	HAS(o, "f NO [BADCHARSET");
	o = say("g SEARCH FROB\r\n");
	HAS(o, "g BAD");
}

static void test_copy_move_expunge(void **state)
{
	(void)state;
	select_inbox();
	const char *o = say("a COPY 1:2 Trash\r\n");
	HAS(o, "a OK [COPYUID 1002 1:2 1:2]");
	o = say("b COPY 1 Nope\r\n");
	HAS(o, "b NO [TRYCREATE]");
	o = say("c MOVE 1 Trash\r\n");
	HAS(o, "* OK [COPYUID 1002 1 3]");
	HAS(o, "* 1 EXPUNGE");
	HAS(o, "c OK");
	o = say("d FETCH 1 UID\r\n");
	HAS(o, "* 1 FETCH (UID 2)");
	o = say("e STORE 1 +FLAGS.SILENT (\\Deleted)\r\nf UID EXPUNGE 2\r\n");
	HAS(o, "* 1 EXPUNGE");
	HAS(o, "f OK");
	o = say("g SELECT Trash\r\n");
	HAS(o, "* 3 EXISTS");
	o = say("h STORE 1:* +FLAGS.SILENT (\\Deleted)\r\ni CLOSE\r\n");
	HASNT(o, "EXPUNGE"); /* CLOSE expunges silently */
	HAS(o, "i OK");
	o = say("j STATUS Trash (MESSAGES UIDNEXT)\r\n");
	HAS(o, "* STATUS Trash (MESSAGES 0 UIDNEXT 4)");
}

static void test_append(void **state)
{
	(void)state;
	login();
	const char *o = say("a APPEND Sent (\\Seen) \"14-Nov-2023 22:13:20 +0000\" {11}\r\n");
	HAS(o, "+ ");
	o = say("Subject: x\r\n\r\n");
	HAS(o, "a OK [APPENDUID 1001 1]");
	o = say("b APPEND Sent {5+}\r\nhello\r\n");
	HAS(o, "b OK [APPENDUID 1001 2]");
	o = say("c APPEND Nope {5+}\r\nhello\r\n");
	HAS(o, "c NO [TRYCREATE]");
	o = say("d APPEND Sent {99999999}\r\n");
	HAS(o, "d NO [TOOBIG]");
	HASNT(o, "+ ");
	o = say("e STATUS Sent (MESSAGES)\r\n");
	HAS(o, "(MESSAGES 2)");
	/* a non-synchronizing literal over the limit arrives anyway: it is
	 * read and dropped, never taken as commands, then refused */
	char *big = with_literal("f APPEND Sent {1000001+}\r\n", 1000001, "\r\ng NOOP\r\n");
	o = say(big);
	free(big);
	HAS(o, "f NO [TOOBIG]");
	HAS(o, "g OK");
	HASNT(o, "* BAD");
}

static void test_literal_bound(void **state)
{
	(void)state;
	login();
	/* a synchronizing literal over the command limit: refused before the
	 * client sends it (no "+") */
	const char *o = say("a LOGIN {100000}\r\n");
	HAS(o, "a NO [TOOBIG]");
	HASNT(o, "+ ");
	HAS(say("b NOOP\r\n"), "b OK");
	/* a non-synchronizing one is read to its end and dropped */
	char *big = with_literal("c LOGIN {100000+}\r\n", 100000, " x\r\nd NOOP\r\n");
	o = say(big);
	free(big);
	HAS(o, "c NO [TOOBIG]");
	HAS(o, "d OK");
	HASNT(o, "* BAD");
}

static void test_pipelining(void **state)
{
	(void)state;
	const char *o = say("a LOGIN bob secret\r\nb SELECT INBOX\r\nc FETCH 1 UID\r\nd LOGOUT\r\n");
	HAS(o, "a OK");
	HAS(o, "b OK");
	HAS(o, "* 1 FETCH (UID 1)");
	HAS(o, "* BYE");
	HAS(o, "d OK");
	assert_true(imap_server_is_closed(&T->f.s));
	assert_true(strstr(o, "* BYE") < strstr(o, "d OK"));
}

static void test_idle(void **state)
{
	(void)state;
	select_inbox();
	const char *o = say("a IDLE\r\n");
	HAS(o, "+ idling");
	assert_true(imap_server_in_idle(&T->f.s));
	fake_deliver(fake_folder(&T->f, "INBOX"), msg1, strlen(msg1), 0, 1700007200);
	imap_server_notify(&T->f.s);
	o = say("");
	HAS(o, "* 3 EXISTS");
	o = say("DONE\r\n");
	HAS(o, "a OK");
	assert_false(imap_server_in_idle(&T->f.s));
}

static void test_bad_commands_limit(void **state)
{
	(void)state;
	const char *o = say("a FROB\r\n");
	HAS(o, "a BAD");
	o = say("\r\n");
	HAS(o, "* BAD");
	o = say("b FETCH 1 FLAGS\r\n");
	HAS(o, "b BAD"); /* not in the selected state */
	for (int i = 0; i < IMAP_SERVER_MAX_ERRORS; i++)
		say("x FROB\r\n");
	assert_true(imap_server_is_closed(&T->f.s));
	HAS(T->f.got.data, "* BYE");
}

static void test_long_line(void **state)
{
	(void)state;
	size_t n = 200000;
	char *p = malloc(n + 3);
	memset(p, 'a', n);
	memcpy(p + n, "\r\n", 3);
	const char *o = say(p);
	free(p);
	HAS(o, "BAD");
	HAS(say("b NOOP\r\n"), "b OK");
	/* a tagged command too long: the answer carries its tag, so that a
	 * client waiting for it is not left waiting */
	p = malloc(n + 16);
	memcpy(p, "t1 FETCH ", 9);
	for (size_t i = 9; i < n; i += 2)
		memcpy(p + i, "1,", 2);
	memcpy(p + n, "1 UID\r\n", 8);
	o = say(p);
	free(p);
	HAS(o, "t1 NO [TOOBIG]");
}

static void test_utf8_names(void **state)
{
	(void)state;
	login();
	const char *o = say("a CREATE \"Entw&APw-rfe\"\r\n");
	HAS(o, "a OK");
	o = say("b LIST \"\" Entw*\r\n");
	HAS(o, "\".\" Entw&APw-rfe\r\n");
	o = say("c ENABLE IMAP4rev2\r\n");
	HAS(o, "* ENABLED IMAP4rev2");
	o = say("d LIST \"\" Entw*\r\n");
	HAS(o, "\"Entwürfe\"");
	o = say("e SELECT \"Entwürfe\"\r\n");
	HAS(o, "e OK");
}

static void test_namespace_id_quota(void **state)
{
	(void)state;
	login();
	HAS(say("a NAMESPACE\r\n"), "* NAMESPACE ((\"\" \".\")) NIL NIL");
	HAS(say("b ID NIL\r\n"), "* ID (\"name\" \"tern\"");
	const char *o = say("c GETQUOTAROOT INBOX\r\n");
	HAS(o, "* QUOTAROOT INBOX \"\"\r\n");
	HAS(o, "* QUOTA \"\" (STORAGE 1 1000)"); /* KiB, rounded up */
	T->f.quota_limit = 0;
	HAS(say("c2 GETQUOTAROOT INBOX\r\n"), "* QUOTAROOT INBOX\r\n"); /* no quota: no root */
	HAS(say("d STATUS INBOX (MESSAGES UNSEEN SIZE)\r\n"), "* STATUS INBOX (MESSAGES 2 UNSEEN 1 SIZE ");
	HAS(say("e LIST \"\" * RETURN (STATUS (MESSAGES))\r\n"), "* STATUS INBOX (MESSAGES 2)");
}

static void test_unselect_and_logout(void **state)
{
	(void)state;
	select_inbox();
	HAS(say("a UNSELECT\r\n"), "a OK");
	assert_int_equal(T->f.s.state, IMAP_S_AUTH);
	assert_int_equal(T->f.opens, T->f.closes);
	HAS(say("b LOGOUT\r\n"), "* BYE");
}

/* Found by imaptest's "atoms" and "nil" scripts: "[" is an ATOM-CHAR
 * even with no "]" after it, and NIL is an astring and a keyword like
 * any other atom (RFC 9051 9). */
static void test_atom_chars_and_nil(void **state)
{
	(void)state;
	login();
	const char *o = say("a SELECT !#$&'+,-.0123456789:;<=>?@^_`|[}\r\n");
	HAS(o, "a NO");
	o = say("b LIST \"\" !#$&'+,-.0123456789:;<=>?@^_`|[}%*\r\n");
	HAS(o, "b OK");
	o = say("c LIST \"\" NIL\r\n");
	HAS(o, "c OK");
	HASNT(o, "* LIST");
	o = say("d SELECT INBOX\r\n");
	HAS(o, "d OK");
	o = say("e STORE 1 +FLAGS NIL\r\n");
	HAS(o, "FLAGS (NIL)");
	HAS(o, "e OK");
	o = say("f FETCH 1 FLAGS\r\n");
	HAS(o, "* 1 FETCH (FLAGS (NIL))");
	/* a fetch section still spans its "]" */
	o = say("g FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]\r\n");
	HAS(o, "BODY[HEADER.FIELDS (SUBJECT)] {");
	HAS(o, "g OK");
}

/* The MODSEQ of message seq, from a FETCH. */
static unsigned long long modseq_of(unsigned seq)
{
	char cmd[64], want[64];
	snprintf(cmd, sizeof cmd, "m FETCH %u MODSEQ\r\n", seq);
	const char *o = say(cmd);
	snprintf(want, sizeof want, "* %u FETCH (MODSEQ (", seq);
	const char *p = strstr(o, want);
	if (p == NULL)
		fail_msg("no MODSEQ in:\n%s", o);
	return strtoull(p + strlen(want), NULL, 10);
}

/* Found by imaptest's "esearch-condstore": a CONDSTORE-enabling command
 * in the selected state brings "* OK [HIGHESTMODSEQ n]" (RFC 7162 3.1),
 * once; the MODSEQ of ESEARCH MIN or MAX is that of the message
 * returned, of ALL the highest of all (RFC 7162 3.1.5). */
static void test_condstore_enabling_and_esearch_modseq(void **state)
{
	(void)state;
	select_inbox();
	const char *o = say("a FETCH 1 MODSEQ\r\n");
	HAS(o, "* OK [HIGHESTMODSEQ ");
	assert_true(strstr(o, "* OK [HIGHESTMODSEQ ") < strstr(o, "a OK"));
	o = say("b FETCH 1 MODSEQ\r\n");
	HASNT(o, "HIGHESTMODSEQ");
	/* message 2 changes first, then message 1: 1 has the higher modseq */
	HAS(say("c STORE 2 +FLAGS (\\Flagged)\r\n"), "c OK");
	HAS(say("d STORE 1 +FLAGS (\\Flagged)\r\n"), "d OK");
	unsigned long long m1 = modseq_of(1), m2 = modseq_of(2);
	assert_true(m1 > m2);
	char want[128];
	o = say("e SEARCH RETURN (MIN) MODSEQ 1\r\n");
	snprintf(want, sizeof want, "* ESEARCH (TAG \"e\") MIN 1 MODSEQ %llu\r\n", m1);
	HAS(o, want);
	o = say("f SEARCH RETURN (MAX) MODSEQ 1\r\n");
	snprintf(want, sizeof want, "* ESEARCH (TAG \"f\") MAX 2 MODSEQ %llu\r\n", m2);
	HAS(o, want);
	o = say("g SEARCH RETURN (MIN MAX) MODSEQ 1\r\n");
	snprintf(want, sizeof want, "MIN 1 MAX 2 MODSEQ %llu\r\n", m1);
	HAS(o, want);
	o = say("h SEARCH RETURN (ALL) 2 MODSEQ 1\r\n");
	snprintf(want, sizeof want, "ALL 2 MODSEQ %llu\r\n", m2);
	HAS(o, want);
	/* CONDSTORE is on already: STATUS (HIGHESTMODSEQ) adds nothing */
	o = say("i STATUS INBOX (HIGHESTMODSEQ)\r\n");
	HASNT(o, "* OK [HIGHESTMODSEQ");
}

/* Found by imaptest's "listext": RECURSIVEMATCH lists a parent with
 * CHILDINFO only for a subscribed child the patterns do not list
 * themselves (as Dovecot does). */
static void test_list_recursivematch_childinfo(void **state)
{
	(void)state;
	login();
	HAS(say("a CREATE P.c1\r\n"), "a OK");
	HAS(say("b SUBSCRIBE P.c1\r\n"), "b OK");
	const char *o = say("c LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (P)\r\n");
	HAS(o, "\".\" P (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n");
	o = say("d LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (P P.c1)\r\n");
	HAS(o, "\".\" P.c1\r\n");
	HASNT(o, "\".\" P ");
	HASNT(o, "CHILDINFO");
	o = say("e LIST (SUBSCRIBED RECURSIVEMATCH) \"\" *1\r\n");
	HAS(o, "\".\" P.c1\r\n");
	HASNT(o, "CHILDINFO");
	o = say("f LIST (SUBSCRIBED RECURSIVEMATCH) \"\" P%\r\n");
	HAS(o, "\".\" P (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n");
	HAS(o, "f OK");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_greeting_and_capability, setup, teardown),
		cmocka_unit_test_setup_teardown(test_logindisabled_off_loopback, setup_remote, teardown),
		cmocka_unit_test_setup_teardown(test_starttls_drops_pipelined_plaintext, setup_remote, teardown),
		cmocka_unit_test_setup_teardown(test_login_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_authenticate_plain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_authenticate_continuation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_and_special_use, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_sizes_and_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nul_and_bare_lf_on_the_wire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_and_updates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_condstore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_move_expunge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_literal_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelining, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_commands_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_utf8_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_namespace_id_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unselect_and_logout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atom_chars_and_nil, setup, teardown),
		cmocka_unit_test_setup_teardown(test_condstore_enabling_and_esearch_modseq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_recursivematch_childinfo, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
