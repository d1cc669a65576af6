/*
 * test_mime — the MIME structure of stored messages (proto/mime: RFC
 * 2045, 2046, 2047, 2183, 2231, 5322) as IMAP FETCH and SEARCH use it
 * (RFC 9051 6.4.4, 6.4.5, 7.5.2).
 *
 * The table `goldens` holds messages written for these tests, each with
 * its ENVELOPE, BODY, BODYSTRUCTURE and RFC822.SIZE. The expectations
 * match what Dovecot 2.3 (2.3.19) answers to FETCH for the same message
 * in a Maildir, except where a comment above an entry says why the RFC
 * decides otherwise (or the same text is sent as a literal there). Every
 * golden message is also parsed split at every offset, fed one octet at
 * a time, and stored with CR LF instead of LF: the answers must not
 * change, and the sizes must move exactly by the line ends added.
 *
 * Then: body sections (RFC 9051 6.4.5, also checked against Dovecot),
 * HEADER.FIELDS filtering, the text search with its decoders, and the
 * limits MIME_PARTS_MAX, MIME_DEPTH_MAX and MIME_FIELD_MAX.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "proto/mime.h"

struct golden {
	const char *name;
	uint64_t vsize;     /* RFC822.SIZE */
	const char *msg;    /* as stored, LF line ends unless the test is about them */
	size_t len;
	const char *envelope, *body, *bodystructure;
};

/* A message literal and its length (NUL octets included). */
#define MSG(s) s, sizeof(s) - 1

/* The expectations match Dovecot 2.3 FETCH answers but where a comment says otherwise. */
static const struct golden goldens[] = {
	{"simple", 324,
	 MSG("Date: Mon, 4 Mar 2024 10:00:00 +0100\n"
	     "From: Alice Example <alice@example.org>\n"
	     "To: Bob <bob@example.com>, carol@example.net\n"
	     "Cc: \"Dave, Jr.\" <dave@example.com>\n"
	     "Bcc: eve@example.com (Eve E)\n"
	     "Subject: Hello =?utf-8?q?w=C3=B6rld?=\n"
	     "In-Reply-To: <prev@example.org>\n"
	     "Message-ID: <id1@example.org>\n"
	     "\n"
	     "Hi Bob,\n"
	     "this is the body.\n"),
	 "(\"Mon, 4 Mar 2024 10:00:00 +0100\" \"Hello =?utf-8?q?w=C3=B6rld?=\" ((\"Alice Example\" NIL \"alice\" \"example.org\")) "
	 "((\"Alice Example\" NIL \"alice\" \"example.org\")) "
	 "((\"Alice Example\" NIL \"alice\" \"example.org\")) ((\"Bob\" NIL \"bob\" \"example.com\")"
	 "(NIL NIL \"carol\" \"example.net\")) ((\"Dave, Jr.\" NIL \"dave\" \"example.com\")) "
	 "((\"Eve E\" NIL \"eve\" \"example.com\")) \"<prev@example.org>\" \"<id1@example.org>\")",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 28 2)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 28 2 NIL NIL NIL NIL)"},
	{"minimal", 33,
	 MSG("From: alice@example.org\n"
	     "\n"
	     "body\n"),
	 "(NIL NIL ((NIL NIL \"alice\" \"example.org\")) ((NIL NIL \"alice\" \"example.org\")) "
	 "((NIL NIL \"alice\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 NIL NIL NIL NIL)"},
	{"group", 252,
	 MSG("From: Alice <alice@example.org>\n"
	     "Sender: Secretary <sec@example.org>\n"
	     "Reply-To: list@example.org\n"
	     "To: undisclosed-recipients:;\n"
	     "Cc: Team: a@example.com, \"B b\" <b@example.com>;, z@example.com\n"
	     "Subject: groups\n"
	     "Date: Tue, 5 Mar 2024 11:00:00 +0000\n"
	     "\n"
	     "x\n"),
	 "(\"Tue, 5 Mar 2024 11:00:00 +0000\" \"groups\" ((\"Alice\" NIL \"alice\" \"example.org\")) "
	 "((\"Secretary\" NIL \"sec\" \"example.org\")) ((NIL NIL \"list\" \"example.org\")) "
	 "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) ((NIL NIL \"Team\" NIL)"
	 "(NIL NIL \"a\" \"example.com\")(\"B b\" NIL \"b\" \"example.com\")(NIL NIL NIL NIL)"
	 "(NIL NIL \"z\" \"example.com\")) NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)"},
	{"mixed", 580,
	 MSG("From: a@example.org\n"
	     "To: b@example.org\n"
	     "Subject: mixed\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/mixed; boundary=\"XYZ\"\n"
	     "\n"
	     "This is the preamble.\n"
	     "--XYZ\n"
	     "Content-Type: text/plain; charset=utf-8\n"
	     "Content-Transfer-Encoding: quoted-printable\n"
	     "\n"
	     "caf=C3=A9 soft=\n"
	     "break\n"
	     "--XYZ\n"
	     "Content-Type: application/pdf; name=\"report.pdf\"\n"
	     "Content-Disposition: attachment; filename=\"report.pdf\"\n"
	     "Content-Transfer-Encoding: base64\n"
	     "Content-Description: The report\n"
	     "Content-ID: <part2@example.org>\n"
	     "\n"
	     "JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+PgpzdHJlYW0K\n"
	     "--XYZ--\n"
	     "This is the epilogue.\n"),
	 "(NIL \"mixed\" ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"b\" \"example.org\")) NIL NIL NIL NIL)",
	 "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 22 1)"
	 "(\"application\" \"pdf\" (\"name\" \"report.pdf\") "
	 "\"<part2@example.org>\" \"The report\" \"base64\" 64) \"mixed\")",
	 "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 22 1 NIL NIL NIL NIL)"
	 "(\"application\" \"pdf\" (\"name\" \"report.pdf\") "
	 "\"<part2@example.org>\" \"The report\" \"base64\" 64 NIL (\"attachment\" (\"filename\" \"report.pdf\")) "
	 "NIL NIL) \"mixed\" (\"boundary\" \"XYZ\") NIL NIL NIL)"},
	{"alt", 581,
	 MSG("From: a@example.org\n"
	     "Subject: alt\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/mixed; boundary=outer\n"
	     "\n"
	     "--outer\n"
	     "Content-Type: multipart/alternative; boundary=\"inner\"\n"
	     "\n"
	     "--inner\n"
	     "Content-Type: text/plain; charset=\"us-ascii\"\n"
	     "\n"
	     "plain text\n"
	     "--inner\n"
	     "Content-Type: text/html; charset=UTF-8\n"
	     "Content-Transfer-Encoding: base64\n"
	     "\n"
	     "PGh0bWw+PGJvZHk+aHRtbCB0ZXh0PC9ib2R5PjwvaHRtbD4K\n"
	     "--inner--\n"
	     "\n"
	     "--outer\n"
	     "Content-Type: image/png; name=pic.png\n"
	     "Content-Disposition: inline; filename=pic.png\n"
	     "Content-Language: en, de\n"
	     "Content-Location: http://example.org/pic.png\n"
	     "\n"
	     "iVBORw0KGgo=\n"
	     "--outer--\n"),
	 "(NIL \"alt\" ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 0)"
	 "(\"text\" \"html\" (\"charset\" \"UTF-8\") NIL NIL \"base64\" 48 0) \"alternative\")"
	 "(\"image\" \"png\" (\"name\" \"pic.png\") NIL NIL \"7bit\" 12) \"mixed\")",
	 "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 0 NIL NIL NIL NIL)"
	 "(\"text\" \"html\" (\"charset\" \"UTF-8\") NIL NIL \"base64\" 48 0 NIL NIL NIL NIL) "
	 "\"alternative\" (\"boundary\" \"inner\") NIL NIL NIL)(\"image\" \"png\" (\"name\" \"pic.png\") "
	 "NIL NIL \"7bit\" 12 NIL (\"inline\" (\"filename\" \"pic.png\")) (\"en\" \"de\") "
	 "\"http://example.org/pic.png\") \"mixed\" (\"boundary\" \"outer\") NIL NIL NIL)"},
	{"rfc822", 635,
	 MSG("From: a@example.org\n"
	     "Subject: fwd\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/mixed; boundary=\"b1\"\n"
	     "\n"
	     "--b1\n"
	     "Content-Type: text/plain\n"
	     "\n"
	     "see attached\n"
	     "--b1\n"
	     "Content-Type: message/rfc822\n"
	     "\n"
	     "From: Inner <inner@example.net>\n"
	     "To: x@example.com\n"
	     "Subject: inner subject\n"
	     "Date: Wed, 6 Mar 2024 12:00:00 -0500\n"
	     "Message-ID: <inner@example.net>\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/alternative; boundary=\"b2\"\n"
	     "\n"
	     "--b2\n"
	     "Content-Type: text/plain\n"
	     "\n"
	     "inner plain\n"
	     "line two\n"
	     "--b2\n"
	     "Content-Type: text/html\n"
	     "\n"
	     "<p>inner html</p>\n"
	     "--b2--\n"
	     "\n"
	     "--b1\n"
	     "Content-Type: message/rfc822\n"
	     "\n"
	     "From: second@example.net\n"
	     "Subject: simple inner\n"
	     "\n"
	     "just text\n"
	     "--b1--\n"),
	 "(NIL \"fwd\" ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 0)"
	 "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 337 (\"Wed, 6 Mar 2024 12:00:00 -0500\" \"inner subject\" ((\"Inner\" NIL \"inner\" \"example.net\")) "
	 "((\"Inner\" NIL \"inner\" \"example.net\")) ((\"Inner\" NIL \"inner\" \"example.net\")) "
	 "((NIL NIL \"x\" \"example.com\")) NIL NIL NIL \"<inner@example.net>\") "
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 21 1)"
	 "(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 17 0) \"alternative\") 18)"
	 "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 60 (NIL \"simple inner\" ((NIL NIL \"second\" \"example.net\")) "
	 "((NIL NIL \"second\" \"example.net\")) ((NIL NIL \"second\" \"example.net\")) "
	 "NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 0) 3) "
	 "\"mixed\")",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 0 NIL NIL NIL NIL)"
	 "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 337 (\"Wed, 6 Mar 2024 12:00:00 -0500\" \"inner subject\" ((\"Inner\" NIL \"inner\" \"example.net\")) "
	 "((\"Inner\" NIL \"inner\" \"example.net\")) ((\"Inner\" NIL \"inner\" \"example.net\")) "
	 "((NIL NIL \"x\" \"example.com\")) NIL NIL NIL \"<inner@example.net>\") "
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 21 1 NIL NIL NIL NIL)"
	 "(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 17 0 NIL NIL NIL NIL) "
	 "\"alternative\" (\"boundary\" \"b2\") NIL NIL NIL) 18 NIL NIL NIL NIL)"
	 "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 60 (NIL \"simple inner\" ((NIL NIL \"second\" \"example.net\")) "
	 "((NIL NIL \"second\" \"example.net\")) ((NIL NIL \"second\" \"example.net\")) "
	 "NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") "
	 "NIL NIL \"7bit\" 9 0 NIL NIL NIL NIL) 3 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b1\") "
	 "NIL NIL NIL)"},
	{"rfc2231", 422,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/mixed; boundary=\"q\"\n"
	     "\n"
	     "--q\n"
	     "Content-Type: application/octet-stream;\n"
	     " name*0=\"very long \";\n"
	     " name*1=\"file name.txt\"\n"
	     "Content-Disposition: attachment;\n"
	     " filename*0*=utf-8''%E2%82%AC%20rates;\n"
	     " filename*1=\".txt\"\n"
	     "\n"
	     "data\n"
	     "--q\n"
	     "Content-Type: text/plain; charset*=utf-8'en'%E2%82%AC\n"
	     "Content-Disposition: attachment; filename*=iso-8859-1''caf%E9.txt\n"
	     "\n"
	     "x\n"
	     "--q--\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "((\"application\" \"octet-stream\" (\"name\" \"very long file name.txt\") NIL NIL \"7bit\" 4)"
	 "(\"text\" \"plain\" (\"charset*\" \"utf-8'en'%E2%82%AC\" \"charset\" \"us-ascii\") "
	 "NIL NIL \"7bit\" 1 0) \"mixed\")",
	 "((\"application\" \"octet-stream\" (\"name\" \"very long file name.txt\") "
	 "NIL NIL \"7bit\" 4 NIL (\"attachment\" (\"filename*\" \"utf-8''%E2%82%AC%20rates.txt\")) NIL NIL)"
	 "(\"text\" \"plain\" (\"charset*\" \"utf-8'en'%E2%82%AC\" \"charset\" \"us-ascii\") "
	 "NIL NIL \"7bit\" 1 0 NIL (\"attachment\" (\"filename*\" \"iso-8859-1''caf%E9.txt\")) NIL NIL) "
	 "\"mixed\" (\"boundary\" \"q\") NIL NIL NIL)"},
	{"noctype", 92,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Transfer-Encoding: 8bit\n"
	     "\n"
	     "no content type\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"8bit\" 17 1)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"8bit\" 17 1 NIL NIL NIL NIL)"},
	{"nobound", 124,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/mixed\n"
	     "\n"
	     "--foo\n"
	     "Content-Type: text/plain\n"
	     "\n"
	     "hello\n"
	     "--foo--\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) "
	 "\"mixed\" NIL NIL NIL NIL)"},
	{"nofinal", 180,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/mixed; boundary=zz\n"
	     "\n"
	     "preamble\n"
	     "--zz\n"
	     "Content-Type: text/plain\n"
	     "\n"
	     "one\n"
	     "--zz\n"
	     "Content-Type: text/html\n"
	     "\n"
	     "<b>two</b>\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0)"
	 "(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 1) \"mixed\")",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0 NIL NIL NIL NIL)"
	 "(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 1 NIL NIL NIL NIL) "
	 "\"mixed\" (\"boundary\" \"zz\") NIL NIL NIL)"},
	{"b64text", 233,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: text/plain; charset=iso-8859-1\n"
	     "Content-Transfer-Encoding: base64\n"
	     "Content-Language: fr\n"
	     "Content-Location: foo.txt\n"
	     "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n"
	     "\n"
	     "Q2Fm6SBhdSBsYWl0Cg==\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"iso-8859-1\") NIL NIL \"base64\" 22 1)",
	 "(\"text\" \"plain\" (\"charset\" \"iso-8859-1\") "
	 "NIL NIL \"base64\" 22 1 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" NIL (\"fr\") \"foo.txt\")"},
	{"empty", 0,
	 MSG(""),
	 "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)"},
	{"hdronly", 37,
	 MSG("From: a@example.org\n"
	     "Subject: no body"),
	 "(NIL \"no body\" ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)"},
	{"noblank", 50,
	 MSG("From: a@example.org\n"
	     "Subject: header ends at eof\n"),
	 "(NIL \"header ends at eof\" ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)"},
	/* ENVELOPE: subject quoted, Dovecot sends the same text as a literal */
	{"addrs", 405,
	 MSG("From: \"Last, First\" <first.last@example.org>, <bare@example.org>, John Q. Public <jqp@example.com>\n"
	     "To: <@route1,@route2:user@example.com>, broken <nodomain>, justword, \"quoted local\"@example.com\n"
	     "Cc: =?iso-8859-1?q?Andr=E9?= <andre@example.fr>, (comment only) c@example.com\n"
	     "Bcc: Group One:;, Group Two: x@y.z;\n"
	     "Subject:   spaced   subject   with\ttab  \n"
	     "Message-ID: <a@b>\n"
	     "In-Reply-To: <x@y> <z@w>\n"
	     "\n"
	     "b\n"),
	 "(NIL \"spaced subject with tab\" ((\"Last, First\" NIL \"first.last\" \"example.org\")"
	 "(NIL NIL \"bare\" \"example.org\")(\"John Q. Public\" NIL \"jqp\" \"example.com\")) "
	 "((\"Last, First\" NIL \"first.last\" \"example.org\")(NIL NIL \"bare\" \"example.org\")"
	 "(\"John Q. Public\" NIL \"jqp\" \"example.com\")) "
	 "((\"Last, First\" NIL \"first.last\" \"example.org\")(NIL NIL \"bare\" \"example.org\")"
	 "(\"John Q. Public\" NIL \"jqp\" \"example.com\")) "
	 "((NIL \"@route1,@route2\" \"user\" \"example.com\")"
	 "(\"broken\" NIL \"nodomain\" \"MISSING_DOMAIN\")(NIL NIL \"justword\" \"MISSING_DOMAIN\")"
	 "(NIL NIL \"quoted local\" \"example.com\")) "
	 "((\"=?iso-8859-1?q?Andr=E9?=\" NIL \"andre\" \"example.fr\")(NIL NIL \"c\" \"example.com\")) "
	 "((NIL NIL \"Group One\" NIL)(NIL NIL NIL NIL)(NIL NIL \"Group Two\" NIL)(NIL NIL \"x\" \"y.z\")"
	 "(NIL NIL NIL NIL)) \"<x@y> <z@w>\" \"<a@b>\")",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)"},
	{"digest", 198,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/digest; boundary=d\n"
	     "\n"
	     "--d\n"
	     "\n"
	     "From: d1@example.org\n"
	     "Subject: digest one\n"
	     "\n"
	     "one\n"
	     "--d\n"
	     "Content-Type: text/plain\n"
	     "\n"
	     "not a message\n"
	     "--d--\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 48 (NIL \"digest one\" ((NIL NIL \"d1\" \"example.org\")) "
	 "((NIL NIL \"d1\" \"example.org\")) ((NIL NIL \"d1\" \"example.org\")) NIL NIL NIL NIL NIL) "
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0) 3)"
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 13 0) \"digest\")",
	 "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 48 (NIL \"digest one\" ((NIL NIL \"d1\" \"example.org\")) "
	 "((NIL NIL \"d1\" \"example.org\")) ((NIL NIL \"d1\" \"example.org\")) NIL NIL NIL NIL NIL) "
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0 NIL NIL NIL NIL) "
	 "3 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") "
	 "NIL NIL \"7bit\" 13 0 NIL NIL NIL NIL) \"digest\" (\"boundary\" \"d\") NIL NIL NIL)"},
	/* ENVELOPE: subject quoted, Dovecot sends the same text as a literal */
	{"folded", 163,
	 MSG("From: a@example.org\n"
	     "Subject: a folded\n"
	     " subject line\n"
	     "X-Long: one\n"
	     "\ttwo\n"
	     "Content-Type: text/plain;\n"
	     "\tcharset=\"UTF-8\";\n"
	     "\tformat=flowed\n"
	     "MIME-Version: 1.0\n"
	     "\n"
	     "body\n"),
	 "(NIL \"a folded subject line\" ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"UTF-8\" \"format\" \"flowed\") NIL NIL \"7bit\" 6 1)",
	 "(\"text\" \"plain\" (\"charset\" \"UTF-8\" \"format\" \"flowed\") "
	 "NIL NIL \"7bit\" 6 1 NIL NIL NIL NIL)"},
	{"upper", 150,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: TEXT/HTML; CHARSET=ISO-8859-1\n"
	     "Content-Transfer-Encoding: QUOTED-PRINTABLE\n"
	     "\n"
	     "<html>=E9</html>\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"TEXT\" \"HTML\" (\"CHARSET\" \"ISO-8859-1\") NIL NIL \"QUOTED-PRINTABLE\" 18 1)",
	 "(\"TEXT\" \"HTML\" (\"CHARSET\" \"ISO-8859-1\") NIL NIL \"QUOTED-PRINTABLE\" 18 1 NIL NIL NIL NIL)"},
	/* BODY, BODYSTRUCTURE: RFC 2045 5.2: an invalid Content-Type means text/plain; Dovecot echoes "text" "" */
	{"badctype", 65,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: text\n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)"},
	{"emptymp", 112,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/mixed; boundary=never\n"
	     "\n"
	     "there is no part here\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) "
	 "\"mixed\" (\"boundary\" \"never\") NIL NIL NIL)"},
	{"8bitsubj", 118,
	 MSG("From: J\xc3\xb6rg <joerg@example.de>\n"
	     "Subject: Gr\xc3\xbc\xc3\x9f" "e \"quoted\" back\\slash\n"
	     "Date: Thu, 7 Mar 2024 00:00:00 +0000\n"
	     "\n"
	     "\xc3\xa4\xc3\xb6\xc3\xbc\n"),
	 "(\"Thu, 7 Mar 2024 00:00:00 +0000\" {27}\r\n"
	 "Gr\xc3\xbc\xc3\x9f" "e \"quoted\" back\\slash (({5}\r\n"
	 "J\xc3\xb6rg NIL \"joerg\" \"example.de\")) (({5}\r\n"
	 "J\xc3\xb6rg NIL \"joerg\" \"example.de\")) (({5}\r\n"
	 "J\xc3\xb6rg NIL \"joerg\" \"example.de\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 1)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 1 NIL NIL NIL NIL)"},
	{"dupfields", 270,
	 MSG("From: first@example.org\n"
	     "From: second@example.org\n"
	     "Subject: first subject\n"
	     "Subject: second subject\n"
	     "To: t1@example.org\n"
	     "To: t2@example.org\n"
	     "Message-ID: <m1@x>\n"
	     "Message-ID: <m2@x>\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: text/plain; charset=utf-8\n"
	     "Content-Type: text/html\n"
	     "\n"
	     "x\n"),
	 "(NIL \"second subject\" ((NIL NIL \"first\" \"example.org\")(NIL NIL \"second\" \"example.org\")) "
	 "((NIL NIL \"first\" \"example.org\")(NIL NIL \"second\" \"example.org\")) "
	 "((NIL NIL \"first\" \"example.org\")(NIL NIL \"second\" \"example.org\")) "
	 "((NIL NIL \"t1\" \"example.org\")(NIL NIL \"t2\" \"example.org\")) NIL NIL NIL \"<m2@x>\")",
	 "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)"},
	{"boundary_ws", 148,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/mixed; boundary=\"sp\"\n"
	     "\n"
	     "--sp   \n"
	     "Content-Type: text/plain\n"
	     "\n"
	     "one\n"
	     "--sp--   \n"
	     "after\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0) \"mixed\")",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0 NIL NIL NIL NIL) "
	 "\"mixed\" (\"boundary\" \"sp\") NIL NIL NIL)"},
	{"rfc822_in_rfc822", 214,
	 MSG("From: top@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: message/rfc822\n"
	     "\n"
	     "From: mid@example.org\n"
	     "Subject: mid\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: message/rfc822\n"
	     "\n"
	     "From: deep@example.org\n"
	     "Subject: deep\n"
	     "\n"
	     "deep body\n"),
	 "(NIL NIL ((NIL NIL \"top\" \"example.org\")) ((NIL NIL \"top\" \"example.org\")) "
	 "((NIL NIL \"top\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 140 (NIL \"mid\" ((NIL NIL \"mid\" \"example.org\")) "
	 "((NIL NIL \"mid\" \"example.org\")) ((NIL NIL \"mid\" \"example.org\")) NIL NIL NIL NIL NIL) "
	 "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 52 (NIL \"deep\" ((NIL NIL \"deep\" \"example.org\")) "
	 "((NIL NIL \"deep\" \"example.org\")) ((NIL NIL \"deep\" \"example.org\")) NIL NIL NIL NIL NIL) "
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 11 1) 4) 9)",
	 "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 140 (NIL \"mid\" ((NIL NIL \"mid\" \"example.org\")) "
	 "((NIL NIL \"mid\" \"example.org\")) ((NIL NIL \"mid\" \"example.org\")) NIL NIL NIL NIL NIL) "
	 "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 52 (NIL \"deep\" ((NIL NIL \"deep\" \"example.org\")) "
	 "((NIL NIL \"deep\" \"example.org\")) ((NIL NIL \"deep\" \"example.org\")) NIL NIL NIL NIL NIL) "
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 11 1 NIL NIL NIL NIL) "
	 "4 NIL NIL NIL NIL) 9 NIL NIL NIL NIL)"},
	/* BODY, BODYSTRUCTURE: RFC 9051 7.5.2: message/global carries an envelope; Dovecot 2.3 treats it as a leaf */
	{"global", 254,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/mixed; boundary=g\n"
	     "\n"
	     "--g\n"
	     "Content-Type: message/global\n"
	     "\n"
	     "From: g@example.org\n"
	     "Subject: global\n"
	     "\n"
	     "text\n"
	     "--g\n"
	     "Content-Type: message/delivery-status\n"
	     "\n"
	     "Reporting-MTA: dns; example.org\n"
	     "--g--\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "((\"message\" \"global\" NIL NIL NIL \"7bit\" 44 (NIL \"global\" ((NIL NIL \"g\" \"example.org\")) "
	 "((NIL NIL \"g\" \"example.org\")) ((NIL NIL \"g\" \"example.org\")) NIL NIL NIL NIL NIL) "
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 0) 3)"
	 "(\"message\" \"delivery-status\" NIL NIL NIL \"7bit\" 31) \"mixed\")",
	 "((\"message\" \"global\" NIL NIL NIL \"7bit\" 44 (NIL \"global\" ((NIL NIL \"g\" \"example.org\")) "
	 "((NIL NIL \"g\" \"example.org\")) ((NIL NIL \"g\" \"example.org\")) NIL NIL NIL NIL NIL) "
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 0 NIL NIL NIL NIL) "
	 "3 NIL NIL NIL NIL)(\"message\" \"delivery-status\" NIL NIL NIL \"7bit\" 31 NIL NIL NIL NIL) "
	 "\"mixed\" (\"boundary\" \"g\") NIL NIL NIL)"},
	{"params", 193,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: text/plain; charset=utf-8; format=flowed; delsp=yes; novalue; x=\"a\\\"b\"\n"
	     "Content-Disposition: inline\n"
	     "Content-Transfer-Encoding: 7bit\n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"utf-8\" \"format\" \"flowed\" \"delsp\" \"yes\") "
	 "NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"utf-8\" \"format\" \"flowed\" \"delsp\" \"yes\") "
	 "NIL NIL \"7bit\" 3 1 NIL (\"inline\" NIL) NIL NIL)"},
	{"prefix_boundary", 247,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/mixed; boundary=\"ab\"\n"
	     "\n"
	     "--ab\n"
	     "Content-Type: multipart/mixed; boundary=\"abc\"\n"
	     "\n"
	     "--abc\n"
	     "Content-Type: text/plain\n"
	     "\n"
	     "inner\n"
	     "--abc--\n"
	     "--ab\n"
	     "Content-Type: text/plain\n"
	     "\n"
	     "outer two\n"
	     "--ab--\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0) \"mixed\")"
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 0) \"mixed\")",
	 "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0 NIL NIL NIL NIL) "
	 "\"mixed\" (\"boundary\" \"abc\") NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") "
	 "NIL NIL \"7bit\" 9 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"ab\") NIL NIL NIL)"},
	{"nonmime_ctype", 87,
	 MSG("From: a@example.org\n"
	     "Content-Type: text/html; charset=utf-8\n"
	     "\n"
	     "<p>no mime-version</p>\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 24 1)",
	 "(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 24 1 NIL NIL NIL NIL)"},
	/* ENVELOPE: subject quoted, Dovecot sends the same text as a literal */
	{"bare_cr", 60,
	 MSG("From: a@example.org\n"
	     "Subject: cr\rhere\n"
	     "\n"
	     "line\rwith cr\n"
	     "end\n"),
	 "(NIL \"cr here\" ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 19 2)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 19 2 NIL NIL NIL NIL)"},
	{"blank_body_lines", 155,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/mixed; boundary=e\n"
	     "\n"
	     "--e\n"
	     "Content-Type: text/plain\n"
	     "\n"
	     "\n"
	     "--e\n"
	     "\n"
	     "no header part\n"
	     "--e\n"
	     "--e--\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)"
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 14 0)"
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)"
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 14 0 NIL NIL NIL NIL)"
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) "
	 "\"mixed\" (\"boundary\" \"e\") NIL NIL NIL)"},
	{"addr_odd", 142,
	 MSG("From: Undisclosed <>\n"
	     "To: @example.com, user@, \"x y\" <a @ b . c>, a@[127.0.0.1]\n"
	     "Cc: name (comm) <n@x.y> (after)\n"
	     "Reply-To: \n"
	     "Subject: \n"
	     "\n"
	     "x\n"),
	 "(NIL \"\" ((\"Undisclosed\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) "
	 "((\"Undisclosed\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) "
	 "((\"Undisclosed\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) "
	 "((NIL NIL \"MISSING_MAILBOX\" \"example.com\")(NIL NIL \"user\" \"MISSING_DOMAIN\")"
	 "(\"x y\" NIL \"a\" \"b.c\")(NIL NIL \"a\" \"[127.0.0.1]\")) ((\"name\" NIL \"n\" \"x.y\")) "
	 "NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)"},
	{"date_fold", 118,
	 MSG("Date: Fri, 8 Mar 2024\n"
	     " 09:00:00 +0000\n"
	     "From: a@example.org\n"
	     "Subject: =?iso-8859-1?b?Q2Fm6Q==?= =?utf-8?q?_ok?=\n"
	     "\n"
	     "x\n"),
	 "(\"Fri, 8 Mar 2024 09:00:00 +0000\" \"=?iso-8859-1?b?Q2Fm6Q==?= =?utf-8?q?_ok?=\" ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)"},
	{"message_partial", 114,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: message/partial; id=\"x\"; number=1; total=2\n"
	     "\n"
	     "partial data\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"message\" \"partial\" (\"id\" \"x\" \"number\" \"1\" \"total\" \"2\") NIL NIL \"7bit\" 14)",
	 "(\"message\" \"partial\" (\"id\" \"x\" \"number\" \"1\" \"total\" \"2\") "
	 "NIL NIL \"7bit\" 14 NIL NIL NIL NIL)"},
	{"lang_loc_mp", 280,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/related; boundary=r; type=\"text/html\"\n"
	     "Content-Language: en\n"
	     "Content-Location: http://example.org/\n"
	     "Content-Disposition: inline\n"
	     "\n"
	     "--r\n"
	     "Content-Type: text/html\n"
	     "Content-ID: <c1>\n"
	     "Content-MD5: abc=\n"
	     "\n"
	     "<html/>\n"
	     "--r--\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "((\"text\" \"html\" (\"charset\" \"us-ascii\") \"<c1>\" NIL \"7bit\" 7 0) \"related\")",
	 "((\"text\" \"html\" (\"charset\" \"us-ascii\") \"<c1>\" NIL \"7bit\" 7 0 \"abc=\" NIL NIL NIL) "
	 "\"related\" (\"boundary\" \"r\" \"type\" \"text/html\") (\"inline\" NIL) (\"en\") "
	 "\"http://example.org/\")"},
	{"noeol_body", 112,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/mixed; boundary=n\n"
	     "\n"
	     "--n\n"
	     "\n"
	     "no eol at end\n"
	     "--n--"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 13 0) \"mixed\")",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 13 0 NIL NIL NIL NIL) "
	 "\"mixed\" (\"boundary\" \"n\") NIL NIL NIL)"},
	/* BODY, BODYSTRUCTURE: RFC 2045 5.2: an invalid Content-Type means text/plain; Dovecot echoes "" "" */
	{"quoted_ctype", 111,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: \"text\"/\"plain\"\n"
	     "Content-Transfer-Encoding: base 64\n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)"},
	{"comment_ctype", 111,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: text/plain (comment) ; (c2) charset = \"utf-8\" (c3)\n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)"},
	/* BODY, BODYSTRUCTURE: an empty parameter is skipped; Dovecot loses the charset after "; ;" */
	{"params2", 93,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: text/plain; ; charset=utf-8; x=y\n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"utf-8\" \"x\" \"y\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"utf-8\" \"x\" \"y\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)"},
	{"params3", 97,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: text/plain; charset=utf-8; junk; x=y\n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)"},
	{"params4", 95,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: text/plain; charset=utf-8 x=y; z=w\n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"utf-8\" \"z\" \"w\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"utf-8\" \"z\" \"w\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)"},
	{"params5", 114,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: text/plain; charset=\"utf-8\"; name=\"a b.txt\"; empty=\"\"\n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"utf-8\" \"name\" \"a b.txt\" \"empty\" \"\") "
	 "NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"utf-8\" \"name\" \"a b.txt\" \"empty\" \"\") "
	 "NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)"},
	{"params6", 87,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: text/plain; charset=utf-8;\n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)"},
	{"disp_noval", 106,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: text/plain\n"
	     "Content-Disposition: ; filename=x\n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") "
	 "NIL NIL \"7bit\" 3 1 NIL (\"\" (\"filename\" \"x\")) NIL NIL)"},
	{"disp_params", 183,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: text/plain\n"
	     "Content-Disposition: attachment; filename=\"a\\\"b.txt\"; size=10; creation-date=\"Wed, 12 Feb 1997 16:29:51 -0500\"\n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") "
	 "NIL NIL \"7bit\" 3 1 NIL (\"attachment\" (\"filename\" \"a\\\"b.txt\" \"size\" \"10\" \"creation-date\" \"Wed, 12 Feb 1997 16:29:51 -0500\")) "
	 "NIL NIL)"},
	{"lang", 113,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: text/plain\n"
	     "Content-Language: en-US (comment), fr-CA\n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL (\"en-US\" \"fr-CA\") "
	 "NIL)"},
	{"lang_empty", 91,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: text/plain\n"
	     "Content-Language: \n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)"},
	/* BODY, BODYSTRUCTURE: the blank of a folded value is not kept; Dovecot keeps " <folded@id>" */
	{"cid_fold", 131,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: text/plain\n"
	     "Content-ID:\n"
	     " <folded@id>\n"
	     "Content-Description: caf\xc3\xa9 desc\n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") \"<folded@id>\" {10}\r\n"
	 "caf\xc3\xa9 desc \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") \"<folded@id>\" {10}\r\n"
	 "caf\xc3\xa9 desc \"7bit\" 3 1 NIL NIL NIL NIL)"},
	{"hdr_space_colon", 69,
	 MSG("From : a@example.org\n"
	     "Subject : spaced colon\n"
	     "To:b@example.org\n"
	     "\n"
	     "x\n"),
	 "(NIL \"spaced colon\" ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"b\" \"example.org\")) NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)"},
	{"nocolon", 66,
	 MSG("From: a@example.org\n"
	     "this line has no colon\n"
	     "Subject: after\n"
	     "\n"
	     "x\n"),
	 "(NIL \"after\" ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)"},
	{"ws_line_hdr", 55,
	 MSG("From: a@example.org\n"
	     "   \n"
	     "Subject: after ws line\n"
	     "\n"
	     "x\n"),
	 "(NIL \"after ws line\" ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)"},
	/* BODY, BODYSTRUCTURE: RFC 2046 5.1.1: the line end before the delimiter is not the part's; Dovecot counts it in a message/rfc822 part */
	{"rfc822_b64", 206,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/mixed; boundary=b\n"
	     "\n"
	     "--b\n"
	     "Content-Type: message/rfc822\n"
	     "Content-Transfer-Encoding: base64\n"
	     "\n"
	     "RnJvbTogeEB5LnoKU3ViamVjdDogaGkKCmJvZHkK\n"
	     "--b--\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "((\"message\" \"rfc822\" NIL NIL NIL \"base64\" 40 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) 0) \"mixed\")",
	 "((\"message\" \"rfc822\" NIL NIL NIL \"base64\" 40 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) "
	 "0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL NIL)"},
	{"mp_b64", 165,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/mixed; boundary=b\n"
	     "Content-Transfer-Encoding: base64\n"
	     "\n"
	     "--b\n"
	     "Content-Type: text/plain\n"
	     "\n"
	     "one\n"
	     "--b--\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0) \"mixed\")",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0 NIL NIL NIL NIL) "
	 "\"mixed\" (\"boundary\" \"b\") NIL NIL NIL)"},
	{"bound_special", 177,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/mixed; boundary=\"=_a b'()+,-./:=?\"\n"
	     "\n"
	     "--=_a b'()+,-./:=?\n"
	     "Content-Type: text/plain\n"
	     "\n"
	     "one\n"
	     "--=_a b'()+,-./:=?--\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0) \"mixed\")",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0 NIL NIL NIL NIL) "
	 "\"mixed\" (\"boundary\" \"=_a b'()+,-./:=?\") NIL NIL NIL)"},
	{"long_bound", 500,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/mixed; boundary=\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"\n"
	     "\n"
	     "--xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
	     "Content-Type: text/plain\n"
	     "\n"
	     "one\n"
	     "--xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
	     "\n"
	     "two\n"
	     "--xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx--\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0)"
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0)"
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0 NIL NIL NIL NIL)"
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0 NIL NIL NIL NIL)"
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) "
	 "\"mixed\" (\"boundary\" \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\") "
	 "NIL NIL NIL)"},
	{"same_bound", 234,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/mixed; boundary=s\n"
	     "\n"
	     "--s\n"
	     "Content-Type: multipart/alternative; boundary=s\n"
	     "\n"
	     "--s\n"
	     "Content-Type: text/plain\n"
	     "\n"
	     "inner\n"
	     "--s--\n"
	     "--s\n"
	     "Content-Type: text/plain\n"
	     "\n"
	     "last\n"
	     "--s--\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0) \"alternative\")"
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 0) \"mixed\")",
	 "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0 NIL NIL NIL NIL) "
	 "\"alternative\" (\"boundary\" \"s\") NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") "
	 "NIL NIL \"7bit\" 4 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"s\") NIL NIL NIL)"},
	{"outer_close", 211,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/mixed; boundary=o\n"
	     "\n"
	     "--o\n"
	     "Content-Type: multipart/alternative; boundary=i\n"
	     "\n"
	     "--i\n"
	     "Content-Type: text/plain\n"
	     "\n"
	     "inner never closed\n"
	     "--o--\n"
	     "epilogue\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 18 0) \"alternative\") "
	 "\"mixed\")",
	 "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 18 0 NIL NIL NIL NIL) "
	 "\"alternative\" (\"boundary\" \"i\") NIL NIL NIL) \"mixed\" (\"boundary\" \"o\") NIL NIL NIL)"},
	{"delim_in_hdr", 163,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/mixed; boundary=h\n"
	     "\n"
	     "--h\n"
	     "Content-Type: text/plain\n"
	     "--h\n"
	     "Content-Type: text/html\n"
	     "\n"
	     "second\n"
	     "--h--\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)"
	 "(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 0) \"mixed\")",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)"
	 "(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 0 NIL NIL NIL NIL) "
	 "\"mixed\" (\"boundary\" \"h\") NIL NIL NIL)"},
	{"cr_only", 43,
	 MSG("From: a@example.org\rSubject: cr only\r\rbody\r"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)"},
	{"bound_noeol_close", 126,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/mixed; boundary=n\n"
	     "\n"
	     "--n\n"
	     "Content-Type: text/plain\n"
	     "\n"
	     "x\n"
	     "--n--"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0) \"mixed\")",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL) "
	 "\"mixed\" (\"boundary\" \"n\") NIL NIL NIL)"},
	{"bound_suffix", 159,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/mixed; boundary=sfx\n"
	     "\n"
	     "--sfx\n"
	     "Content-Type: text/plain\n"
	     "\n"
	     "one\n"
	     "--sfxjunk\n"
	     "still one?\n"
	     "--sfx--\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0)"
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0 NIL NIL NIL NIL)"
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) "
	 "\"mixed\" (\"boundary\" \"sfx\") NIL NIL NIL)"},
	{"nul", 52,
	 MSG("From: a@example.org\n"
	     "Subject: nul\x00here\n"
	     "\n"
	     "body\x00nul\n"),
	 "(NIL {10}\r\n"
	 "nul\xef\xbf\xbdhere ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 1)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 1 NIL NIL NIL NIL)"},
	/* ENVELOPE: name quoted, Dovecot sends the same text as a literal */
	{"encoded_addr", 164,
	 MSG("From: =?utf-8?b?SsO2cmc=?= <j@example.de>\n"
	     "To: \"=?utf-8?q?quoted_word?=\" <q@example.de>\n"
	     "Cc: \"Real \\\"Quote\\\" Name\" <r@example.de>, (Comm Name) <c@example.de>\n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((\"=?utf-8?b?SsO2cmc=?=\" NIL \"j\" \"example.de\")) "
	 "((\"=?utf-8?b?SsO2cmc=?=\" NIL \"j\" \"example.de\")) "
	 "((\"=?utf-8?b?SsO2cmc=?=\" NIL \"j\" \"example.de\")) "
	 "((\"=?utf-8?q?quoted_word?=\" NIL \"q\" \"example.de\")) "
	 "((\"Real \\\"Quote\\\" Name\" NIL \"r\" \"example.de\")(NIL NIL \"c\" \"example.de\")) "
	 "NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)"},
	/* ENVELOPE: RFC 5322 4.4: empty list members are no addresses; Dovecot writes MISSING_MAILBOX for them */
	{"addr_weird", 87,
	 MSG("From: a@b@c, <<x@y>>, \"unterminated <u@v>\n"
	     "To: @a,@b:c@d, x@y.z.\n"
	     "Cc: ,,, a@b ,,\n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) "
	 "((NIL NIL \"MISSING_MAILBOX\" \"a\")(NIL NIL \"MISSING_MAILBOX\" \"b\")) ((NIL NIL \"a\" \"b\")) "
	 "NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)"},
	/* ENVELOPE: the blank of a folded value is not kept; Dovecot keeps a leading space */
	{"msgid_fold", 112,
	 MSG("From: a@b\n"
	     "Message-ID:\n"
	     " <fold@x>\n"
	     "In-Reply-To: <a@b>\n"
	     " (comment)\n"
	     "Date:\n"
	     " Mon, 1 Jan 2024 00:00:00 +0000\n"
	     "\n"
	     "x\n"),
	 "(\"Mon, 1 Jan 2024 00:00:00 +0000\" NIL ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) "
	 "((NIL NIL \"a\" \"b\")) NIL NIL NIL \"<a@b> (comment)\" \"<fold@x>\")",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)"},
	{"mime_ver_in_part", 184,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/mixed; boundary=p\n"
	     "\n"
	     "--p\n"
	     "Content-Transfer-Encoding: base64\n"
	     "Content-Type: text/plain; charset=us-ascii\n"
	     "\n"
	     "eA==\n"
	     "--p--\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"base64\" 4 0) \"mixed\")",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"base64\" 4 0 NIL NIL NIL NIL) "
	 "\"mixed\" (\"boundary\" \"p\") NIL NIL NIL)"},
	{"text_nocharset_params", 86,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: text/plain; format=flowed\n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"format\" \"flowed\" \"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"format\" \"flowed\" \"charset\" \"us-ascii\") "
	 "NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)"},
	{"app_nocharset", 85,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: application/octet-stream\n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"application\" \"octet-stream\" NIL NIL NIL \"7bit\" 3)",
	 "(\"application\" \"octet-stream\" NIL NIL NIL \"7bit\" 3 NIL NIL NIL NIL)"},
	{"rfc822_empty", 129,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/mixed; boundary=e\n"
	     "\n"
	     "--e\n"
	     "Content-Type: message/rfc822\n"
	     "\n"
	     "--e--\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 0 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) 0) \"mixed\")",
	 "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 0 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) "
	 "0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"e\") NIL NIL NIL)"},
	{"rfc822_nobody", 103,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: message/rfc822\n"
	     "\n"
	     "From: x@y\n"
	     "Subject: only header"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 31 (NIL \"only header\" ((NIL NIL \"x\" \"y\")) "
	 "((NIL NIL \"x\" \"y\")) ((NIL NIL \"x\" \"y\")) NIL NIL NIL NIL NIL) "
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) 1)",
	 "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 31 (NIL \"only header\" ((NIL NIL \"x\" \"y\")) "
	 "((NIL NIL \"x\" \"y\")) ((NIL NIL \"x\" \"y\")) NIL NIL NIL NIL NIL) "
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) "
	 "1 NIL NIL NIL NIL)"},
	{"digest_explicit", 173,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/digest; boundary=d\n"
	     "\n"
	     "--d\n"
	     "Content-Type: message/rfc822\n"
	     "\n"
	     "From: x@y\n"
	     "\n"
	     "one\n"
	     "--d\n"
	     "\n"
	     "From: z@w\n"
	     "\n"
	     "two\n"
	     "--d--\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 16 (NIL NIL ((NIL NIL \"x\" \"y\")) "
	 "((NIL NIL \"x\" \"y\")) ((NIL NIL \"x\" \"y\")) NIL NIL NIL NIL NIL) "
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0) 2)"
	 "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 16 (NIL NIL ((NIL NIL \"z\" \"w\")) "
	 "((NIL NIL \"z\" \"w\")) ((NIL NIL \"z\" \"w\")) NIL NIL NIL NIL NIL) "
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0) 2) \"digest\")",
	 "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 16 (NIL NIL ((NIL NIL \"x\" \"y\")) "
	 "((NIL NIL \"x\" \"y\")) ((NIL NIL \"x\" \"y\")) NIL NIL NIL NIL NIL) "
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0 NIL NIL NIL NIL) "
	 "2 NIL NIL NIL NIL)"
	 "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 16 (NIL NIL ((NIL NIL \"z\" \"w\")) "
	 "((NIL NIL \"z\" \"w\")) ((NIL NIL \"z\" \"w\")) NIL NIL NIL NIL NIL) "
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0 NIL NIL NIL NIL) "
	 "2 NIL NIL NIL NIL) \"digest\" (\"boundary\" \"d\") NIL NIL NIL)"},
	{"case_bound", 176,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/mixed; boundary=CaSe\n"
	     "\n"
	     "--case\n"
	     "Content-Type: text/plain\n"
	     "\n"
	     "x\n"
	     "--CaSe\n"
	     "Content-Type: text/plain\n"
	     "\n"
	     "y\n"
	     "--CaSe--\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0) \"mixed\")",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL) "
	 "\"mixed\" (\"boundary\" \"CaSe\") NIL NIL NIL)"},
	{"ctype_trailing", 105,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: text/plain;charset=utf-8;name=x.txt(comment)\n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"utf-8\" \"name\" \"x.txt\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"utf-8\" \"name\" \"x.txt\") "
	 "NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)"},
	{"2231_gap", 94,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: application/x; name*0=a; name*2=c\n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"application\" \"x\" (\"name*0\" \"a\" \"name*2\" \"c\") NIL NIL \"7bit\" 3)",
	 "(\"application\" \"x\" (\"name*0\" \"a\" \"name*2\" \"c\") NIL NIL \"7bit\" 3 NIL NIL NIL NIL)"},
	{"2231_mixed", 119,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: application/x; name*0*=utf-8''a%20; name*1=b%c; name=plain\n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"application\" \"x\" (\"name\" \"plain\" \"name*\" \"utf-8''a%20b%25c\") NIL NIL \"7bit\" 3)",
	 "(\"application\" \"x\" (\"name\" \"plain\" \"name*\" \"utf-8''a%20b%25c\") "
	 "NIL NIL \"7bit\" 3 NIL NIL NIL NIL)"},
	{"multiple_ct_mp", 131,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/mixed; boundary=m1\n"
	     "Content-Type: text/plain\n"
	     "\n"
	     "--m1\n"
	     "\n"
	     "x\n"
	     "--m1--\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0) \"mixed\")",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL) "
	 "\"mixed\" (\"boundary\" \"m1\") NIL NIL NIL)"},
	{"subj_tabs", 38,
	 MSG("From: a@b\n"
	     "Subject:\tleading tab\n"
	     "\n"
	     "x\n"),
	 "(NIL \"leading tab\" ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) "
	 "NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)"},
	{"ctype_8bit", 159,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: text/plain; charset=utf-8; name=\"caf\xc3\xa9.txt\"\n"
	     "Content-Disposition: attachment; filename=\"caf\xc3\xa9.txt\"\n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"utf-8\" \"name\" {9}\r\n"
	 "caf\xc3\xa9.txt) NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"utf-8\" \"name\" {9}\r\n"
	 "caf\xc3\xa9.txt) NIL NIL \"7bit\" 3 1 NIL (\"attachment\" (\"filename\" {9}\r\n"
	 "caf\xc3\xa9.txt)) NIL NIL)"},
	{"mixed_eol", 122,
	 MSG("From: a@b\r\n"
	     "Subject: mixed eol\n"
	     "MIME-Version: 1.0\r\n"
	     "Content-Type: multipart/mixed; boundary=q\n"
	     "\r\n"
	     "--q\r\n"
	     "\n"
	     "line\r\n"
	     "line2\n"
	     "--q--\r\n"),
	 "(NIL \"mixed eol\" ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) "
	 "NIL NIL NIL NIL NIL)",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 11 1) \"mixed\")",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 11 1 NIL NIL NIL NIL) "
	 "\"mixed\" (\"boundary\" \"q\") NIL NIL NIL)"},
	{"boundary_space_before", 127,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/mixed; boundary=w\n"
	     "\n"
	     " --w\n"
	     "not a boundary\n"
	     "--w\n"
	     "\n"
	     "real\n"
	     "--w--\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 0) \"mixed\")",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 0 NIL NIL NIL NIL) "
	 "\"mixed\" (\"boundary\" \"w\") NIL NIL NIL)"},
	{"addr_group_nested", 60,
	 MSG("From: a@b\n"
	     "To: G1: a@b, G2: c@d;;, e@f\n"
	     "Cc: \"G\": x@y;\n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) "
	 "((NIL NIL \"G1\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL \"G2\" \"MISSING_DOMAIN\")(NIL NIL NIL NIL)) "
	 "((NIL NIL \"G\" NIL)(NIL NIL \"x\" \"y\")(NIL NIL NIL NIL)) NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)"},
	{"empty_hdr_value", 53,
	 MSG("From:\n"
	     "To:\n"
	     "Cc: \n"
	     "Subject:\n"
	     "Date:\n"
	     "Message-ID:\n"
	     "\n"
	     "x\n"),
	 "(\"\" \"\" NIL NIL NIL NIL NIL NIL NIL \"\")",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)"},
	{"encoded_subject_raw", 54,
	 MSG("From: a@b\n"
	     "Subject: =?utf-8?q?a?= =?utf-8?q?b?=\n"
	     "\n"
	     "x\n"),
	 "(NIL \"=?utf-8?q?a?= =?utf-8?q?b?=\" ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) "
	 "((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)"},
	{"ctype_no_ws", 116,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type:text/plain;charset=UTF-8\n"
	     "Content-Transfer-Encoding:8BIT\n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"UTF-8\") NIL NIL \"8BIT\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"UTF-8\") NIL NIL \"8BIT\" 3 1 NIL NIL NIL NIL)"},
	{"trailing_hdr_ws", 132,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: text/plain  \n"
	     "Content-Transfer-Encoding: base64  \n"
	     "Content-ID:  <x@y>  \n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") \"<x@y>  \" NIL \"base64\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") \"<x@y>  \" NIL \"base64\" 3 1 NIL NIL NIL NIL)"},
	{"blank_then_delim", 159,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/mixed; boundary=e\n"
	     "\n"
	     "--e\n"
	     "Content-Type: text/plain\n"
	     "\n"
	     "--e\n"
	     "Content-Type: text/html\n"
	     "\n"
	     "\n"
	     "--e--\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)"
	 "(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)"
	 "(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) "
	 "\"mixed\" (\"boundary\" \"e\") NIL NIL NIL)"},
	{"disp_empty", 93,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: text/plain\n"
	     "Content-Disposition:\n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL (\"\" NIL) NIL NIL)"},
	{"disp_quoted", 118,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: text/plain\n"
	     "Content-Disposition: \"attachment\"; filename=x\n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") "
	 "NIL NIL \"7bit\" 3 1 NIL (\"\" (\"filename\" \"x\")) NIL NIL)"},
	{"disp_junk", 123,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: text/plain\n"
	     "Content-Disposition: attachment filename=x; size=3\n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") "
	 "NIL NIL \"7bit\" 3 1 NIL (\"attachment\" (\"size\" \"3\")) NIL NIL)"},
	{"disp_noeq", 122,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: text/plain\n"
	     "Content-Disposition: attachment; filename; size=3\n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL (\"attachment\" NIL) "
	 "NIL NIL)"},
	/* BODY, BODYSTRUCTURE: RFC 2046 5.1.1: the line end before the delimiter is not the part's; Dovecot counts it in a message/rfc822 part */
	{"rfc822_blank_delim", 142,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/mixed; boundary=e\n"
	     "\n"
	     "--e\n"
	     "Content-Type: message/rfc822\n"
	     "\n"
	     "From: x@y\n"
	     "\n"
	     "--e--\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 11 (NIL NIL ((NIL NIL \"x\" \"y\")) "
	 "((NIL NIL \"x\" \"y\")) ((NIL NIL \"x\" \"y\")) NIL NIL NIL NIL NIL) "
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) 1) \"mixed\")",
	 "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 11 (NIL NIL ((NIL NIL \"x\" \"y\")) "
	 "((NIL NIL \"x\" \"y\")) ((NIL NIL \"x\" \"y\")) NIL NIL NIL NIL NIL) "
	 "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) "
	 "1 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"e\") NIL NIL NIL)"},
	{"noblank_part", 123,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: multipart/mixed; boundary=e\n"
	     "\n"
	     "--e\n"
	     "Content-Type: text/plain\n"
	     "--e--\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")",
	 "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) "
	 "\"mixed\" (\"boundary\" \"e\") NIL NIL NIL)"},
	{"ctype_empty_params", 87,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: text/plain;;;charset=utf-8\n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)"},
	{"ctype_param_nameonly_end", 92,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: text/plain; charset=utf-8; flag\n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)"},
	{"ctype_eq_noval", 86,
	 MSG("From: a@example.org\n"
	     "MIME-Version: 1.0\n"
	     "Content-Type: text/plain; charset=; x=y\n"
	     "\n"
	     "x\n"),
	 "(NIL NIL ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	 "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)",
	 "(\"text\" \"plain\" (\"charset\" \"\" \"x\" \"y\") NIL NIL \"7bit\" 3 1)",
	 "(\"text\" \"plain\" (\"charset\" \"\" \"x\" \"y\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)"},
};

#define NGOLDEN (sizeof goldens / sizeof goldens[0])

static const struct golden *golden(const char *name)
{
	for (size_t i = 0; i < NGOLDEN; i++)
		if (strcmp(goldens[i].name, name) == 0)
			return &goldens[i];
	fail_msg("no golden message %s", name);
	return NULL;
}

/* ---- helpers ---- */

/* Parse m: the first `split` octets in one feed, the rest in feeds of
 * `step` octets (0: one feed). */
static void parse_split(const char *m, size_t n, size_t split, size_t step, struct mime_tree *t)
{
	struct mime_parser *p = mime_parser_new(MIME_FULL);
	assert_non_null(p);
	if (split > n)
		split = n;
	assert_int_equal(mime_parser_feed(p, m, split), 0);
	for (size_t i = split; i < n;) {
		size_t k = step == 0 || n - i < step ? n - i : step;
		assert_int_equal(mime_parser_feed(p, m + i, k), 0);
		i += k;
	}
	assert_int_equal(mime_parser_finish(p, t), 0);
}

static void parse(const char *m, size_t n, struct mime_tree *t)
{
	parse_split(m, n, n, 0, t);
}

/* Parentheses balance outside quoted strings and literals, and every
 * literal is whole. */
static void assert_balanced(const char *s)
{
	long depth = 0;
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"') {
			for (i++; i < n && s[i] != '"'; i++)
				if (s[i] == '\\')
					i++;
			assert_true(i < n);
		} else if (s[i] == '{') {
			char *end;
			unsigned long long len = strtoull(s + i + 1, &end, 10);
			assert_true(end[0] == '}' && end[1] == '\r' && end[2] == '\n');
			i = (size_t)(end + 2 - s) + len;
			assert_true(i < n);
		} else if (s[i] == '(') {
			depth++;
		} else if (s[i] == ')') {
			assert_true(--depth >= 0);
		}
	}
	assert_int_equal(depth, 0);
}

/* The invariants of any tree: offsets in order and within the message,
 * parts linked consistently, strings present and balanced. */
static void assert_tree_sane(const struct mime_tree *t, size_t n)
{
	assert_true(t->n >= 1 && t->n <= MIME_PARTS_MAX);
	assert_non_null(t->envelope);
	assert_non_null(t->body);
	assert_non_null(t->bodystructure);
	assert_balanced(t->envelope);
	assert_balanced(t->body);
	assert_balanced(t->bodystructure);
	assert_int_equal(t->parts[0].parent, MIME_NONE);
	assert_int_equal(t->parts[0].hdr_off, 0);
	assert_int_equal(t->parts[0].end_off, n);
	assert_true(t->vsize >= n && t->vsize <= 2 * (uint64_t)n);
	assert_int_equal(t->vsize, t->parts[0].hdr_vsize + t->parts[0].body_vsize);
	for (size_t i = 0; i < t->n; i++) {
		const struct mime_part *p = &t->parts[i];
		assert_true(p->hdr_off <= p->body_off && p->body_off <= p->end_off && p->end_off <= n);
		assert_true(p->hdr_vsize >= p->body_off - p->hdr_off);
		assert_true(p->body_vsize >= p->end_off - p->body_off);
		assert_true(p->body_lines <= p->body_vsize);
		if (i > 0) {
			assert_true(p->parent < i);
			const struct mime_part *up = &t->parts[p->parent];
			assert_true(up->multipart || up->message);
			assert_true(p->hdr_off >= up->body_off && p->end_off <= up->end_off);
		}
		if (p->message)
			assert_true(p->first_child != MIME_NONE && t->parts[p->first_child].next == MIME_NONE);
		if (!p->multipart && !p->message)
			assert_int_equal(p->first_child, MIME_NONE);
		if (p->next != MIME_NONE) {
			assert_true(p->next > i && t->parts[p->next].parent == p->parent);
			assert_true(t->parts[p->next].hdr_off >= p->end_off);
		}
	}
}

static void assert_tree_equal(const struct mime_tree *a, const struct mime_tree *b)
{
	assert_int_equal(a->n, b->n);
	assert_memory_equal(a->parts, b->parts, a->n * sizeof *a->parts);
	assert_string_equal(a->envelope, b->envelope);
	assert_string_equal(a->body, b->body);
	assert_string_equal(a->bodystructure, b->bodystructure);
	assert_int_equal(a->vsize, b->vsize);
}

/* The wire form of m[off, off + len): every LF without CR before it
 * becomes CR LF. Owned by the caller. */
static char *wire(const char *m, uint64_t off, uint64_t len, size_t *out_len)
{
	char *w = malloc(2 * len + 1);
	assert_non_null(w);
	size_t k = 0;
	for (uint64_t i = off; i < off + len; i++) {
		if (m[i] == '\n' && (i == 0 || m[i - 1] != '\r'))
			w[k++] = '\r';
		w[k++] = m[i];
	}
	w[k] = '\0';
	*out_len = k;
	return w;
}

/* The octets of section `spec` ("", "1.2", "3.HEADER", "1.MIME"), on
 * the wire; NULL when there is no such section. Owned by the caller. */
static char *section(const struct mime_tree *t, const char *m, const char *spec)
{
	uint32_t path[16];
	size_t depth = 0;
	enum mime_section_what what = MIME_SEC_ALL;
	const char *s = spec;
	while (*s) {
		if (*s >= '0' && *s <= '9') {
			char *end;
			path[depth++] = (uint32_t)strtoul(s, &end, 10);
			s = *end == '.' ? end + 1 : end;
			continue;
		}
		if (strcmp(s, "HEADER") == 0)
			what = MIME_SEC_HEADER;
		else if (strcmp(s, "TEXT") == 0)
			what = MIME_SEC_TEXT;
		else if (strcmp(s, "MIME") == 0)
			what = MIME_SEC_MIME;
		else
			fail_msg("bad section %s", spec);
		break;
	}
	struct mime_range r;
	if (mime_tree_section(t, path, depth, what, &r) < 0)
		return NULL;
	size_t n;
	char *w = wire(m, r.off, r.len, &n);
	assert_int_equal(n, r.vsize);
	return w;
}

static void assert_section(const struct mime_tree *t, const char *m, const char *spec, const char *want)
{
	char *got = section(t, m, spec);
	if (want == NULL) {
		if (got != NULL)
			fail_msg("section [%s] exists: \"%s\"", spec, got);
		return;
	}
	if (got == NULL)
		fail_msg("section [%s] missing", spec);
	assert_string_equal(got, want);
	free(got);
}

/* m with every bare LF turned into CR LF. */
static char *to_crlf(const char *m, size_t n, size_t *out)
{
	return wire(m, 0, n, out);
}

/* ---- the goldens ---- */

static void test_goldens(void **state)
{
	(void)state;
	for (size_t i = 0; i < NGOLDEN; i++) {
		const struct golden *g = &goldens[i];
		struct mime_tree t;
		parse(g->msg, g->len, &t);
		if (strcmp(t.envelope, g->envelope) != 0 || strcmp(t.body, g->body) != 0 ||
		    strcmp(t.bodystructure, g->bodystructure) != 0)
			print_error("golden %s\n", g->name);
		assert_string_equal(t.envelope, g->envelope);
		assert_string_equal(t.body, g->body);
		assert_string_equal(t.bodystructure, g->bodystructure);
		assert_int_equal(t.vsize, g->vsize);
		assert_tree_sane(&t, g->len);
		mime_tree_free(&t);
	}
}

/* Streaming: any split of the input gives the same tree. */
static void test_goldens_split_everywhere(void **state)
{
	(void)state;
	for (size_t i = 0; i < NGOLDEN; i++) {
		const struct golden *g = &goldens[i];
		struct mime_tree ref, t;
		parse(g->msg, g->len, &ref);
		for (size_t k = 0; k <= g->len; k++) {
			parse_split(g->msg, g->len, k, 0, &t);
			assert_tree_equal(&ref, &t);
			mime_tree_free(&t);
		}
		for (size_t step = 1; step <= 3; step++) {
			parse_split(g->msg, g->len, 0, step, &t);
			assert_tree_equal(&ref, &t);
			mime_tree_free(&t);
		}
		/* a CR that ends one feed and the LF that starts the next */
		if (strstr(g->msg, "\r\n")) {
			parse_split(g->msg, g->len, (size_t)(strstr(g->msg, "\r\n") - g->msg) + 1, 0, &t);
			assert_tree_equal(&ref, &t);
			mime_tree_free(&t);
		}
		mime_tree_free(&ref);
	}
}

/* The same message stored with CR LF: the same strings (the wire form is
 * the same), the same wire sizes and line counts; every stored offset
 * moves by the CRs added before it. */
static void test_goldens_crlf(void **state)
{
	(void)state;
	for (size_t i = 0; i < NGOLDEN; i++) {
		const struct golden *g = &goldens[i];
		size_t n;
		char *crlf = to_crlf(g->msg, g->len, &n);
		struct mime_tree a, b;
		parse(g->msg, g->len, &a);
		parse(crlf, n, &b);
		assert_string_equal(a.envelope, b.envelope);
		assert_string_equal(a.body, b.body);
		assert_string_equal(a.bodystructure, b.bodystructure);
		/* RFC822.SIZE: the LF file counts each bare LF twice, the CR LF
		 * file is its own size */
		size_t bare = 0;
		for (size_t k = 0; k < g->len; k++)
			bare += g->msg[k] == '\n' && (k == 0 || g->msg[k - 1] != '\r');
		assert_int_equal(a.vsize, g->len + bare);
		assert_int_equal(b.vsize, n);
		assert_int_equal(a.vsize, b.vsize);
		assert_int_equal(a.n, b.n);
		for (size_t k = 0; k < a.n; k++) {
			const struct mime_part *p = &a.parts[k], *q = &b.parts[k];
			assert_int_equal(p->hdr_vsize, q->hdr_vsize);
			assert_int_equal(p->body_vsize, q->body_vsize);
			assert_int_equal(p->body_lines, q->body_lines);
			assert_int_equal(p->parent, q->parent);
			size_t hw, bw, ew;
			free(wire(g->msg, 0, p->hdr_off, &hw));
			free(wire(g->msg, 0, p->body_off, &bw));
			free(wire(g->msg, 0, p->end_off, &ew));
			assert_int_equal(q->hdr_off, hw);
			assert_int_equal(q->body_off, bw);
			assert_int_equal(q->end_off, ew);
		}
		mime_tree_free(&a);
		mime_tree_free(&b);
		free(crlf);
	}
}

/* ---- ENVELOPE, as RFC 9051 7.5.2 describes it ---- */

static void test_envelope_fields(void **state)
{
	(void)state;
	const struct golden *g = golden("simple");
	struct mime_tree t;
	parse(g->msg, g->len, &t);
	/* date subject from sender reply-to to cc bcc in-reply-to message-id;
	 * sender and reply-to default to from; the encoded word is left as
	 * it is; a comment after an addr-spec names it */
	assert_string_equal(t.envelope, "(\"Mon, 4 Mar 2024 10:00:00 +0100\" \"Hello =?utf-8?q?w=C3=B6rld?=\" "
	                                "((\"Alice Example\" NIL \"alice\" \"example.org\")) "
	                                "((\"Alice Example\" NIL \"alice\" \"example.org\")) "
	                                "((\"Alice Example\" NIL \"alice\" \"example.org\")) "
	                                "((\"Bob\" NIL \"bob\" \"example.com\")(NIL NIL \"carol\" \"example.net\")) "
	                                "((\"Dave, Jr.\" NIL \"dave\" \"example.com\")) "
	                                "((\"Eve E\" NIL \"eve\" \"example.com\")) "
	                                "\"<prev@example.org>\" \"<id1@example.org>\")");
	mime_tree_free(&t);

	/* absent fields are NIL; only From */
	static const char only_from[] = "From: alice@example.org\n\nbody\n";
	parse(MSG(only_from), &t);
	assert_string_equal(t.envelope, "(NIL NIL ((NIL NIL \"alice\" \"example.org\")) "
	                                "((NIL NIL \"alice\" \"example.org\")) ((NIL NIL \"alice\" \"example.org\")) "
	                                "NIL NIL NIL NIL NIL)");
	mime_tree_free(&t);

	/* no header at all: every member NIL, even sender and reply-to */
	static const char none[] = "\nbody\n";
	parse(MSG(none), &t);
	assert_string_equal(t.envelope, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	mime_tree_free(&t);

	/* present but empty Sender and Reply-To default to From as well */
	static const char empty[] = "From: a@b.c\nSender:\nReply-To:   \n\nx\n";
	parse(MSG(empty), &t);
	assert_string_equal(t.envelope, "(NIL NIL ((NIL NIL \"a\" \"b.c\")) ((NIL NIL \"a\" \"b.c\")) "
	                                "((NIL NIL \"a\" \"b.c\")) NIL NIL NIL NIL NIL)");
	mime_tree_free(&t);
}

static void test_envelope_groups(void **state)
{
	(void)state;
	const struct golden *g = golden("group");
	struct mime_tree t;
	parse(g->msg, g->len, &t);
	/* a group is (NIL NIL "name" NIL) ... (NIL NIL NIL NIL) */
	assert_non_null(strstr(t.envelope, "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL))"));
	assert_non_null(strstr(t.envelope, "((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"example.com\")"
	                                   "(\"B b\" NIL \"b\" \"example.com\")(NIL NIL NIL NIL)"
	                                   "(NIL NIL \"z\" \"example.com\"))"));
	/* Sender and Reply-To given: not defaulted */
	assert_non_null(strstr(t.envelope, "((\"Secretary\" NIL \"sec\" \"example.org\")) "
	                                   "((NIL NIL \"list\" \"example.org\"))"));
	mime_tree_free(&t);
}

static void test_envelope_addresses(void **state)
{
	(void)state;
	const struct golden *g = golden("addrs");
	struct mime_tree t;
	parse(g->msg, g->len, &t);
	/* a source route (RFC 5322 4.4) is the adl; a mailbox without "@"
	 * has MISSING_DOMAIN; a quoted local part is unquoted; encoded words
	 * in names are passed through undecoded (RFC 9051 7.5.2) */
	assert_non_null(strstr(t.envelope, "(NIL \"@route1,@route2\" \"user\" \"example.com\")"));
	assert_non_null(strstr(t.envelope, "(\"broken\" NIL \"nodomain\" \"MISSING_DOMAIN\")"));
	assert_non_null(strstr(t.envelope, "(NIL NIL \"quoted local\" \"example.com\")"));
	assert_non_null(strstr(t.envelope, "(\"=?iso-8859-1?q?Andr=E9?=\" NIL \"andre\" \"example.fr\")"));
	/* the subject's blanks run together */
	assert_non_null(strstr(t.envelope, "(NIL \"spaced subject with tab\" "));
	mime_tree_free(&t);

	/* a name with quotes and 8-bit octets is a literal */
	g = golden("8bitsubj");
	parse(g->msg, g->len, &t);
	assert_non_null(strstr(t.envelope, "(({5}\r\nJ\xc3\xb6rg NIL \"joerg\" \"example.de\"))"));
	mime_tree_free(&t);
}

/* ---- BODYSTRUCTURE ---- */

static void test_text_plain(void **state)
{
	(void)state;
	/* charset defaults to us-ascii, encoding to 7bit; size and lines
	 * on the wire: 26 octets and 2 LFs are 28 octets, 2 lines */
	static const char m[] = "From: a@b.c\n\nHi Bob,\nthis is the body.\n";
	struct mime_tree t;
	parse(MSG(m), &t);
	assert_string_equal(t.body, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 28 2)");
	assert_string_equal(t.bodystructure,
	                    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 28 2 NIL NIL NIL NIL)");
	assert_int_equal(t.vsize, sizeof m - 1 + 4);
	assert_int_equal(t.n, 1);
	assert_int_equal(t.parts[0].hdr_vsize, 15);
	assert_int_equal(t.parts[0].body_off, 13);
	mime_tree_free(&t);

	/* a last line without its line end still counts as a line */
	static const char noeol[] = "From: a@b.c\n\none\ntwo";
	parse(MSG(noeol), &t);
	assert_string_equal(t.body, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 1)");
	mime_tree_free(&t);
}

static void test_multipart_mixed(void **state)
{
	(void)state;
	const struct golden *g = golden("mixed");
	struct mime_tree t;
	parse(g->msg, g->len, &t);
	assert_string_equal(t.bodystructure,
	                    "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 22 1 NIL NIL NIL NIL)"
	                    "(\"application\" \"pdf\" (\"name\" \"report.pdf\") \"<part2@example.org>\" \"The report\" "
	                    "\"base64\" 64 NIL (\"attachment\" (\"filename\" \"report.pdf\")) NIL NIL) "
	                    "\"mixed\" (\"boundary\" \"XYZ\") NIL NIL NIL)");
	assert_int_equal(t.n, 3);
	assert_true(t.parts[0].multipart);
	assert_int_equal(t.parts[0].first_child, 1);
	assert_int_equal(t.parts[1].next, 2);
	assert_int_equal(t.parts[2].next, MIME_NONE);
	/* preamble and epilogue belong to no part, only to [TEXT] */
	assert_section(&t, g->msg, "1", "caf=C3=A9 soft=\r\nbreak");
	char *text = section(&t, g->msg, "TEXT");
	assert_non_null(text);
	assert_true(strncmp(text, "This is the preamble.\r\n--XYZ\r\n", 30) == 0);
	assert_non_null(strstr(text, "--XYZ--\r\nThis is the epilogue.\r\n"));
	free(text);
	mime_tree_free(&t);
}

static void test_rfc2231(void **state)
{
	(void)state;
	const struct golden *g = golden("rfc2231");
	struct mime_tree t;
	parse(g->msg, g->len, &t);
	/* continuations are joined, not decoded (as Dovecot): a joined
	 * extended value keeps its charset'language' and its %XX */
	assert_non_null(strstr(t.bodystructure, "(\"name\" \"very long file name.txt\")"));
	assert_non_null(strstr(t.bodystructure, "(\"attachment\" (\"filename*\" \"utf-8''%E2%82%AC%20rates.txt\"))"));
	assert_non_null(strstr(t.bodystructure, "(\"charset*\" \"utf-8'en'%E2%82%AC\" \"charset\" \"us-ascii\")"));
	mime_tree_free(&t);
}

static void test_alternative_in_mixed(void **state)
{
	(void)state;
	const struct golden *g = golden("alt");
	struct mime_tree t;
	parse(g->msg, g->len, &t);
	assert_string_equal(t.body, "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 0)"
	                            "(\"text\" \"html\" (\"charset\" \"UTF-8\") NIL NIL \"base64\" 48 0) \"alternative\")"
	                            "(\"image\" \"png\" (\"name\" \"pic.png\") NIL NIL \"7bit\" 12) \"mixed\")");
	/* Content-Language is a list, Content-Location a string */
	assert_non_null(strstr(t.bodystructure, "(\"inline\" (\"filename\" \"pic.png\")) (\"en\" \"de\") "
	                                        "\"http://example.org/pic.png\")"));
	assert_section(&t, g->msg, "1.2", "PGh0bWw+PGJvZHk+aHRtbCB0ZXh0PC9ib2R5PjwvaHRtbD4K");
	assert_section(&t, g->msg, "1.2.MIME", "Content-Type: text/html; charset=UTF-8\r\n"
	                                       "Content-Transfer-Encoding: base64\r\n\r\n");
	assert_section(&t, g->msg, "1.1.1", "plain text"); /* part 1 of a leaf is the leaf, once */
	assert_section(&t, g->msg, "1.1.1.1", NULL);
	assert_section(&t, g->msg, "1.3", NULL);
	mime_tree_free(&t);
}

static void test_message_rfc822(void **state)
{
	(void)state;
	const struct golden *g = golden("rfc822");
	struct mime_tree t;
	parse(g->msg, g->len, &t);
	/* the part's envelope, the inner structure and the lines of the
	 * whole inner message */
	assert_non_null(strstr(t.body, "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 337 (\"Wed, 6 Mar 2024 12:00:00 -0500\" "
	                               "\"inner subject\" ((\"Inner\" NIL \"inner\" \"example.net\"))"));
	assert_non_null(strstr(t.body, "\"alternative\") 18)"));
	assert_non_null(strstr(t.body, "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 60 (NIL \"simple inner\" "));
	assert_true(t.parts[2].message);
	assert_int_equal(t.parts[2].body_lines, 18);
	assert_int_equal(t.parts[2].body_vsize, 337);

	assert_section(&t, g->msg, "1", "see attached");
	assert_section(&t, g->msg, "2.1", "inner plain\r\nline two");
	assert_section(&t, g->msg, "2.2.MIME", "Content-Type: text/html\r\n\r\n");
	assert_section(&t, g->msg, "2.TEXT", "--b2\r\nContent-Type: text/plain\r\n\r\ninner plain\r\nline two\r\n"
	                                     "--b2\r\nContent-Type: text/html\r\n\r\n<p>inner html</p>\r\n--b2--\r\n");
	assert_section(&t, g->msg, "3.HEADER", "From: second@example.net\r\nSubject: simple inner\r\n\r\n");
	assert_section(&t, g->msg, "3.TEXT", "just text");
	assert_section(&t, g->msg, "3.1", "just text"); /* part 1 of a non-multipart message */
	assert_section(&t, g->msg, "3.MIME", "Content-Type: message/rfc822\r\n\r\n");
	assert_section(&t, g->msg, "3", "From: second@example.net\r\nSubject: simple inner\r\n\r\njust text");
	assert_section(&t, g->msg, "1.HEADER", NULL); /* HEADER only of messages */
	assert_section(&t, g->msg, "2.3", NULL);
	assert_section(&t, g->msg, "4", NULL);
	mime_tree_free(&t);

	/* a message/rfc822 message: its parts are those of the inner one */
	g = golden("rfc822_in_rfc822");
	parse(g->msg, g->len, &t);
	assert_section(&t, g->msg, "1.1", "From: deep@example.org\r\nSubject: deep\r\n\r\ndeep body\r\n");
	assert_section(&t, g->msg, "1.1.1", "deep body\r\n");
	assert_section(&t, g->msg, "1.HEADER", "From: mid@example.org\r\nSubject: mid\r\nMIME-Version: 1.0\r\n"
	                                       "Content-Type: message/rfc822\r\n\r\n");
	assert_section(&t, g->msg, "1.1.HEADER", "From: deep@example.org\r\nSubject: deep\r\n\r\n");
	mime_tree_free(&t);
}

static void test_encodings_and_extensions(void **state)
{
	(void)state;
	const struct golden *g = golden("b64text");
	struct mime_tree t;
	parse(g->msg, g->len, &t);
	assert_string_equal(t.bodystructure, "(\"text\" \"plain\" (\"charset\" \"iso-8859-1\") NIL NIL \"base64\" 22 1 "
	                                     "\"Q2hlY2sgSW50ZWdyaXR5IQ==\" NIL (\"fr\") \"foo.txt\")");
	mime_tree_free(&t);
	/* a multipart's extension data: params, disposition, language, location */
	g = golden("lang_loc_mp");
	parse(g->msg, g->len, &t);
	assert_non_null(strstr(t.bodystructure, "\"related\" (\"boundary\" \"r\" \"type\" \"text/html\") (\"inline\" NIL) "
	                                        "(\"en\") \"http://example.org/\")"));
	mime_tree_free(&t);
}

static void test_missing_pieces(void **state)
{
	(void)state;
	struct mime_tree t;
	/* no Content-Type: text/plain; charset=us-ascii (RFC 2045 5.2) */
	const struct golden *g = golden("noctype");
	parse(g->msg, g->len, &t);
	assert_string_equal(t.body, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"8bit\" 17 1)");
	mime_tree_free(&t);

	/* a multipart without a boundary has no parts: one empty text part
	 * stands for them, as the grammar needs one */
	g = golden("nobound");
	parse(g->msg, g->len, &t);
	assert_string_equal(t.body, "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")");
	assert_int_equal(t.n, 1);
	assert_section(&t, g->msg, "1", NULL);
	mime_tree_free(&t);

	/* no close delimiter: the last part runs to the end */
	g = golden("nofinal");
	parse(g->msg, g->len, &t);
	assert_string_equal(t.body, "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0)"
	                            "(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 1) \"mixed\")");
	assert_section(&t, g->msg, "2", "<b>two</b>\r\n");
	mime_tree_free(&t);

	/* no empty line: the whole message is header */
	g = golden("hdronly");
	parse(g->msg, g->len, &t);
	assert_int_equal(t.parts[0].body_off, g->len);
	assert_section(&t, g->msg, "TEXT", "");
	assert_section(&t, g->msg, "HEADER", "From: a@example.org\r\nSubject: no body");
	mime_tree_free(&t);

	/* the empty message */
	parse("", 0, &t);
	assert_int_equal(t.vsize, 0);
	assert_string_equal(t.body, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)");
	mime_tree_free(&t);
}

/* RFC 2046 5.1.1: the line end before a delimiter line is the
 * delimiter's, also when it is the empty line after a part's header. */
static void test_delimiter_line_ends(void **state)
{
	(void)state;
	const struct golden *g = golden("blank_then_delim");
	struct mime_tree t;
	parse(g->msg, g->len, &t);
	assert_section(&t, g->msg, "1.MIME", "Content-Type: text/plain\r\n");
	assert_section(&t, g->msg, "1", "");
	assert_section(&t, g->msg, "2.MIME", "Content-Type: text/html\r\n\r\n");
	assert_section(&t, g->msg, "2", "");
	mime_tree_free(&t);
	/* a boundary that is a prefix of the inner one */
	g = golden("prefix_boundary");
	parse(g->msg, g->len, &t);
	assert_section(&t, g->msg, "1.1", "inner");
	assert_section(&t, g->msg, "2", "outer two");
	mime_tree_free(&t);
}

static void test_sections_message(void **state)
{
	(void)state;
	const struct golden *g = golden("simple");
	struct mime_tree t;
	parse(g->msg, g->len, &t);
	size_t n;
	char *all = wire(g->msg, 0, g->len, &n);
	assert_section(&t, g->msg, "", all);
	free(all);
	assert_section(&t, g->msg, "TEXT", "Hi Bob,\r\nthis is the body.\r\n");
	assert_section(&t, g->msg, "1", "Hi Bob,\r\nthis is the body.\r\n");
	char *hdr = section(&t, g->msg, "HEADER");
	assert_non_null(hdr);
	assert_true(strncmp(hdr, "Date: Mon, 4 Mar 2024", 21) == 0);
	assert_int_equal(strlen(hdr), t.parts[0].hdr_vsize);
	assert_string_equal(hdr + strlen(hdr) - 5, ">\r\n\r\n");
	char *mime = section(&t, g->msg, "1.MIME");
	assert_string_equal(mime, hdr);
	free(mime);
	free(hdr);
	assert_section(&t, g->msg, "2", NULL);
	assert_section(&t, g->msg, "1.1", NULL);
	assert_section(&t, g->msg, "0", NULL);
	assert_section(&t, g->msg, "1.HEADER", NULL);
	assert_section(&t, g->msg, "1.TEXT", NULL);
	struct mime_range r;
	assert_int_equal(mime_tree_section(&t, NULL, 0, MIME_SEC_MIME, &r), -1);
	mime_tree_free(&t);
}

/* ---- HEADER.FIELDS ---- */

static void test_header_filter(void **state)
{
	(void)state;
	static const char h[] = "From: a@b.c\n"
	                        "Subject: one\n"
	                        " two\n"
	                        "X-Long: x\r\n"
	                        "\ty\n"
	                        "To: d@e.f\n"
	                        "subject: again\n"
	                        "\n";
	static const char *const names[] = {"SUBJECT", "x-long"};
	struct buf out;
	buf_init(&out, 0);
	assert_int_equal(mime_header_filter(MSG(h), names, 2, false, &out), 0);
	assert_string_equal(out.data, "Subject: one\r\n two\r\nX-Long: x\r\n\ty\r\nsubject: again\r\n\r\n");
	buf_reset(&out);
	assert_int_equal(mime_header_filter(MSG(h), names, 2, true, &out), 0);
	assert_string_equal(out.data, "From: a@b.c\r\nTo: d@e.f\r\n\r\n");
	/* a message with no body and no empty line: none is added (RFC
	 * 9051 6.4.5); a last line without its line end, or with only CR */
	buf_reset(&out);
	assert_int_equal(mime_header_filter("A: 1\nB: 2\n 3", 12, names, 0, true, &out), 0);
	assert_string_equal(out.data, "A: 1\r\nB: 2\r\n 3\r\n");
	buf_reset(&out);
	assert_int_equal(mime_header_filter("A: 1\nB: 2\r", 10, names, 0, true, &out), 0);
	assert_string_equal(out.data, "A: 1\r\nB: 2\r\n");
	buf_reset(&out);
	assert_int_equal(mime_header_filter("A: 1\r\n\r\n", 8, names, 0, true, &out), 0);
	assert_string_equal(out.data, "A: 1\r\n\r\n");
	buf_reset(&out);
	assert_int_equal(mime_header_filter("", 0, names, 0, true, &out), 0);
	assert_int_equal(out.len, 0);
	/* nothing matches: only the empty line */
	buf_reset(&out);
	assert_int_equal(mime_header_filter(MSG(h), (const char *const[]){"Cc"}, 1, false, &out), 0);
	assert_string_equal(out.data, "\r\n");
	buf_free(&out);
	/* a full buffer */
	struct buf small;
	buf_init(&small, 8);
	assert_int_equal(mime_header_filter(MSG(h), names, 2, false, &small), -1);
	buf_free(&small);
}

/* ---- SEARCH ---- */

/* Does needle (where, field, text) match m, fed in pieces of `step`? */
static bool search_step(const char *m, size_t n, size_t step, enum mime_needle_where where, const char *field,
                        const char *text)
{
	struct mime_needle nd = {.where = where, .field = field, .text = text, .len = strlen(text)};
	struct mime_search *s = mime_search_new(&nd, 1);
	assert_non_null(s);
	for (size_t i = 0; i < n;) {
		size_t k = step == 0 || n - i < step ? n - i : step;
		assert_int_equal(mime_search_feed(s, m + i, k), 0);
		i += k;
	}
	mime_search_end(s);
	bool hit = mime_search_matched(s, 0);
	mime_search_free(s);
	return hit;
}

/* The same answer for every way of feeding m. */
static bool search(const char *m, size_t n, enum mime_needle_where where, const char *field, const char *text)
{
	bool hit = search_step(m, n, 0, where, field, text);
	for (size_t step = 1; step <= 7; step += 3)
		assert_true(search_step(m, n, step, where, field, text) == hit);
	return hit;
}

static void test_search_header(void **state)
{
	(void)state;
	static const char m[] = "From: =?iso-8859-1?b?QW5kcuk=?= <andre@example.fr>\n"
	                        "Subject: Hello =?utf-8?q?w=C3=B6rld?= and\n"
	                        " =?utf-8?q?more?=   =?utf-8?q?_words?=\n"
	                        "X-Empty:\n"
	                        "\n"
	                        "body text\n";
	/* RFC 2047 words decoded (Q and B, Latin-1 to UTF-8), case folded */
	assert_true(search(MSG(m), MIME_NEEDLE_HEADER, "subject", "wörld"));
	assert_true(search(MSG(m), MIME_NEEDLE_HEADER, "SUBJECT", "HELLO WÖRLD"));
	assert_true(search(MSG(m), MIME_NEEDLE_HEADER, "From", "andré"));
	/* unfolded; blanks between adjacent encoded words dropped (RFC 2047 6.2) */
	assert_true(search(MSG(m), MIME_NEEDLE_HEADER, "Subject", "and more words"));
	assert_false(search(MSG(m), MIME_NEEDLE_HEADER, "Subject", "=?utf-8"));
	assert_false(search(MSG(m), MIME_NEEDLE_HEADER, "From", "body"));
	assert_false(search(MSG(m), MIME_NEEDLE_HEADER, "To", "andre"));
	/* "" matches when the field exists */
	assert_true(search(MSG(m), MIME_NEEDLE_HEADER, "x-empty", ""));
	assert_false(search(MSG(m), MIME_NEEDLE_HEADER, "Cc", ""));
	/* TEXT sees header and body, BODY the body only */
	assert_true(search(MSG(m), MIME_NEEDLE_TEXT, NULL, "andré"));
	assert_true(search(MSG(m), MIME_NEEDLE_TEXT, NULL, "BODY TEXT"));
	assert_false(search(MSG(m), MIME_NEEDLE_BODY, NULL, "andré"));
	assert_true(search(MSG(m), MIME_NEEDLE_BODY, NULL, ""));
	/* address fields match as addresses too, comments and blanks gone,
	 * as Dovecot does (imaptest's search-addresses) */
	static const char a[] = "From: <user-from (comment)@ (comment) domain.org>\n"
	                        "To: Group: \"Some One\" <one@x.org>, two (Two) @y.org;\n"
	                        "\n";
	assert_true(search(MSG(a), MIME_NEEDLE_HEADER, "From", "user-from@domain.org"));
	assert_true(search(MSG(a), MIME_NEEDLE_HEADER, "From", "comment"));
	assert_true(search(MSG(a), MIME_NEEDLE_HEADER, "To", "two@y.org"));
	assert_true(search(MSG(a), MIME_NEEDLE_HEADER, "To", "some one <one@x.org>"));
	assert_false(search(MSG(a), MIME_NEEDLE_HEADER, "From", "user-from@y.org"));
}

static void test_search_body(void **state)
{
	(void)state;
	const struct golden *g = golden("mixed");
	/* quoted-printable, soft line break included; not the base64 PDF */
	assert_true(search(g->msg, g->len, MIME_NEEDLE_BODY, NULL, "CAFÉ SOFTBREAK"));
	assert_false(search(g->msg, g->len, MIME_NEEDLE_BODY, NULL, "=C3=A9"));
	assert_false(search(g->msg, g->len, MIME_NEEDLE_BODY, NULL, "preamble"));
	/* base64, Latin-1 to UTF-8 */
	g = golden("b64text");
	assert_true(search(g->msg, g->len, MIME_NEEDLE_BODY, NULL, "café au lait"));
	assert_false(search(g->msg, g->len, MIME_NEEDLE_BODY, NULL, "Q2Fm"));
	/* base64 text/html in an alternative */
	g = golden("alt");
	assert_true(search(g->msg, g->len, MIME_NEEDLE_BODY, NULL, "<BODY>HTML TEXT"));
	/* a nested message: its header fields are TEXT, its body is BODY */
	g = golden("rfc822");
	assert_true(search(g->msg, g->len, MIME_NEEDLE_BODY, NULL, "inner plain\nline two"));
	assert_true(search(g->msg, g->len, MIME_NEEDLE_BODY, NULL, "inner plain\r\nline two"));
	assert_true(search(g->msg, g->len, MIME_NEEDLE_TEXT, NULL, "subject: inner subject"));
	assert_false(search(g->msg, g->len, MIME_NEEDLE_HEADER, "Subject", "inner"));
	assert_true(search(g->msg, g->len, MIME_NEEDLE_BODY, NULL, "just text"));
	/* a match does not span two parts */
	assert_false(search(g->msg, g->len, MIME_NEEDLE_BODY, NULL, "attachedinner"));
	/* case folding beyond ASCII */
	static const char sigma[] = "Content-Type: text/plain; charset=utf-8\n\nΟΔΥΣΣΕΥΣ straße\n";
	assert_true(search(MSG(sigma), MIME_NEEDLE_BODY, NULL, "οδυσσευς"));
	assert_true(search(MSG(sigma), MIME_NEEDLE_BODY, NULL, "STRAẞE") ||
	            search(MSG(sigma), MIME_NEEDLE_BODY, NULL, "straße"));
	/* base64 split inside a quantum and QP split inside an escape */
	static const char split[] = "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=x\n\n--x\n"
	                            "Content-Transfer-Encoding: base64\n\naGVsbG8g\nd29y\nbGQ=\n--x\n"
	                            "Content-Transfer-Encoding: quoted-printable\n\nna=\n=C3=AF=\nve\n--x--\n";
	assert_true(search(MSG(split), MIME_NEEDLE_BODY, NULL, "hello world"));
	assert_true(search(MSG(split), MIME_NEEDLE_BODY, NULL, "naïve"));
}

static void test_search_many_and_reset(void **state)
{
	(void)state;
	const struct golden *g = golden("simple");
	struct mime_needle nd[] = {
	        {.where = MIME_NEEDLE_HEADER, .field = "To", .text = "carol", .len = 5},
	        {.where = MIME_NEEDLE_BODY, .text = "missing", .len = 7},
	        {.where = MIME_NEEDLE_HEADER, .field = "Subject", .text = "Hello", .len = 5},
	};
	struct mime_search *s = mime_search_new(nd, 3);
	assert_non_null(s);
	for (int round = 0; round < 2; round++) {
		assert_int_equal(mime_search_feed(s, g->msg, g->len), 0);
		mime_search_end(s);
		assert_true(mime_search_settled(s));
		assert_true(mime_search_matched(s, 0));
		assert_false(mime_search_matched(s, 1));
		assert_true(mime_search_matched(s, 2));
		assert_false(mime_search_matched(s, 3));
		mime_search_reset(s);
	}
	/* header needles alone settle once the header has ended (or once
	 * they match) */
	struct mime_needle absent = {.where = MIME_NEEDLE_HEADER, .field = "To", .text = "nobody", .len = 6};
	struct mime_search *h = mime_search_new(&absent, 1);
	assert_int_equal(mime_search_feed(h, g->msg, 200), 0);
	assert_false(mime_search_settled(h));
	assert_int_equal(mime_search_feed(h, g->msg + 200, g->len - 200), 0);
	assert_true(mime_search_settled(h));
	mime_search_end(h);
	assert_false(mime_search_matched(h, 0));
	mime_search_free(h);
	mime_search_free(s);
	mime_search_free(NULL);
}

/* ---- limits ---- */

static void test_parts_max(void **state)
{
	(void)state;
	struct buf m;
	buf_init(&m, 0);
	buf_puts(&m, "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=p\n\n");
	for (int i = 0; i < MIME_PARTS_MAX + 50; i++)
		buf_printf(&m, "--p\n\npart %d\n", i);
	buf_puts(&m, "--p--\n");
	struct mime_tree t;
	parse(m.data, m.len, &t);
	assert_int_equal(t.n, MIME_PARTS_MAX);
	assert_tree_sane(&t, m.len);
	/* the last part described holds the rest, byte for byte */
	char *last = section(&t, m.data, "999");
	assert_non_null(last);
	assert_true(strncmp(last, "part 998\r\n--p\r\n\r\npart 999", 25) == 0);
	free(last);
	assert_section(&t, m.data, "1000", NULL);
	mime_tree_free(&t);
	buf_free(&m);
}

static void test_depth_max(void **state)
{
	(void)state;
	/* multiparts nested far deeper than the limit: the stack and the
	 * memory stay bounded, the innermost described is opaque */
	struct buf m;
	buf_init(&m, 0);
	const int levels = 5000;
	buf_puts(&m, "MIME-Version: 1.0\n");
	for (int i = 0; i < levels; i++)
		buf_printf(&m, "Content-Type: multipart/mixed; boundary==%d=\n\n--=%d=\n", i, i);
	buf_puts(&m, "\ninnermost\n");
	struct mime_tree t;
	parse(m.data, m.len, &t);
	assert_int_equal(t.n, MIME_DEPTH_MAX);
	assert_tree_sane(&t, m.len);
	assert_non_null(strstr(t.bodystructure, "(\"application\" \"octet-stream\" NIL NIL NIL \"7bit\""));
	size_t depth = 0;
	for (uint32_t i = t.n - 1; t.parts[i].parent != MIME_NONE; i = t.parts[i].parent)
		depth++;
	assert_int_equal(depth, MIME_DEPTH_MAX - 1);
	mime_tree_free(&t);
	buf_free(&m);

	/* message/rfc822 in message/rfc822 ... */
	buf_init(&m, 0);
	for (int i = 0; i < levels; i++)
		buf_puts(&m, "MIME-Version: 1.0\nContent-Type: message/rfc822\n\n");
	buf_puts(&m, "Subject: innermost\n\nbody\n");
	parse(m.data, m.len, &t);
	assert_int_equal(t.n, MIME_DEPTH_MAX);
	assert_tree_sane(&t, m.len);
	mime_tree_free(&t);
	buf_free(&m);
}

static void test_field_max(void **state)
{
	(void)state;
	/* a header field past MIME_FIELD_MAX is cut for parsing, counted in
	 * full; a long To: still gives its first addresses */
	struct buf m;
	buf_init(&m, 0);
	buf_puts(&m, "To: ");
	for (int i = 0; i < 3 * MIME_FIELD_MAX / 16; i++)
		buf_printf(&m, "u%05d@example.org,\n ", i);
	buf_puts(&m, "last@example.org\nSubject: after\n\nbody\n");
	struct mime_tree t;
	parse(m.data, m.len, &t);
	assert_tree_sane(&t, m.len);
	assert_non_null(strstr(t.envelope, "(NIL NIL \"u00000\" \"example.org\")"));
	assert_null(strstr(t.envelope, "last"));
	assert_non_null(strstr(t.envelope, "(NIL \"after\" "));
	assert_section(&t, m.data, "TEXT", "body\r\n");
	mime_tree_free(&t);
	buf_free(&m);
}

/* Address lists grow when written ("a," is 29 octets): the envelopes
 * of inner messages share a budget, past which they are all NIL. */
static void test_envelope_budget(void **state)
{
	(void)state;
	struct buf m;
	buf_init(&m, 0);
	buf_puts(&m, "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=e\n\n");
	for (int i = 0; i < 40; i++) {
		buf_puts(&m, "--e\nContent-Type: message/rfc822\n\nFrom: ");
		for (int k = 0; k < MIME_FIELD_MAX / 2 - 8; k++)
			buf_puts(&m, "a,");
		buf_printf(&m, "\nSubject: inner %d\n\nbody\n", i);
	}
	buf_puts(&m, "--e--\n");
	struct mime_tree t;
	parse(m.data, m.len, &t);
	assert_tree_sane(&t, m.len);
	assert_int_equal(t.n, 81);
	assert_non_null(strstr(t.body, "(NIL \"inner 0\" ((NIL NIL \"a\" \"MISSING_DOMAIN\")"));
	assert_null(strstr(t.body, "\"inner 39\""));
	assert_non_null(strstr(t.body, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"));
	assert_true(strlen(t.bodystructure) < 5 * 1024 * 1024);
	mime_tree_free(&t);
	buf_free(&m);
}

static void test_header_only_mode(void **state)
{
	(void)state;
	const struct golden *g = golden("rfc822");
	struct mime_parser *p = mime_parser_new(MIME_HEADER_ONLY);
	assert_non_null(p);
	assert_false(mime_parser_done(p));
	size_t hdr = (size_t)(strstr(g->msg, "\n\n") - g->msg) + 2;
	assert_int_equal(mime_parser_feed(p, g->msg, hdr - 1), 0);
	assert_false(mime_parser_done(p));
	assert_int_equal(mime_parser_feed(p, g->msg + hdr - 1, 1), 0);
	assert_true(mime_parser_done(p));
	struct mime_tree t;
	assert_int_equal(mime_parser_finish(p, &t), 0);
	assert_string_equal(t.envelope, "(NIL \"fwd\" ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
	                                "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)");
	assert_null(t.bodystructure);
	assert_null(t.body);
	mime_tree_free(&t);
	/* freed without finishing */
	p = mime_parser_new(MIME_FULL);
	assert_int_equal(mime_parser_feed(p, g->msg, g->len / 2), 0);
	mime_parser_free(p);
	mime_parser_free(NULL);
	mime_tree_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_goldens),
	        cmocka_unit_test(test_goldens_split_everywhere),
	        cmocka_unit_test(test_goldens_crlf),
	        cmocka_unit_test(test_envelope_fields),
	        cmocka_unit_test(test_envelope_groups),
	        cmocka_unit_test(test_envelope_addresses),
	        cmocka_unit_test(test_text_plain),
	        cmocka_unit_test(test_multipart_mixed),
	        cmocka_unit_test(test_rfc2231),
	        cmocka_unit_test(test_alternative_in_mixed),
	        cmocka_unit_test(test_message_rfc822),
	        cmocka_unit_test(test_encodings_and_extensions),
	        cmocka_unit_test(test_missing_pieces),
	        cmocka_unit_test(test_delimiter_line_ends),
	        cmocka_unit_test(test_sections_message),
	        cmocka_unit_test(test_header_filter),
	        cmocka_unit_test(test_search_header),
	        cmocka_unit_test(test_search_body),
	        cmocka_unit_test(test_search_many_and_reset),
	        cmocka_unit_test(test_parts_max),
	        cmocka_unit_test(test_depth_max),
	        cmocka_unit_test(test_field_max),
	        cmocka_unit_test(test_envelope_budget),
	        cmocka_unit_test(test_header_only_mode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
