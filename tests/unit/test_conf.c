/*
 * test_conf — the configuration module: parsing of good files, every
 * error with its "FILE:LINE:" prefix, the defaults and the embedded
 * default, sizes and durations (overflow included), the users file, the
 * default postmaster alias, and conf_print's round trip.
 *
 * Files are written into a fresh mkdtemp directory, removed at the end.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf/conf.h"

static char test_conf_dir[64]; /* "/tmp/test_conf.XXXXXX" */
static char test_conf_files[64][PATH_MAX]; /* written files, removed at teardown */
static size_t test_conf_nfiles;

/* Write `text` to DIR/name; returns the path (static storage per file). */
static const char *test_conf_write(const char *name, const char *text)
{
	char *path = NULL;
	for (size_t i = 0; i < test_conf_nfiles; i++) {
		const char *slash = strrchr(test_conf_files[i], '/');
		if (strcmp(slash + 1, name) == 0)
			path = test_conf_files[i];
	}
	if (path == NULL) {
		assert_true(test_conf_nfiles < 64);
		path = test_conf_files[test_conf_nfiles++];
		snprintf(path, PATH_MAX, "%s/%s", test_conf_dir, name);
	}
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	return path;
}

static int test_conf_setup(void **state)
{
	(void)state;
	snprintf(test_conf_dir, sizeof test_conf_dir, "/tmp/test_conf.XXXXXX");
	if (mkdtemp(test_conf_dir) == NULL)
		return -1;
	/* the users file and the round-trip output must not come from the cwd */
	unsetenv("TERN_CONFIG");
	return 0;
}

static int test_conf_teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < test_conf_nfiles; i++)
		unlink(test_conf_files[i]);
	rmdir(test_conf_dir);
	return 0;
}

/* Load text as a file; asserts success. */
static void test_conf_load_ok(const char *text, struct conf *c)
{
	char err[512] = "";
	const char *path = test_conf_write("tern.conf", text);
	int r = conf_load(path, c, err, sizeof err);
	if (r != 0)
		fail_msg("unexpected error: %s", err);
}

/* Load text; asserts the error "PATH:LINE: <fragment...>" exactly at the prefix. */
static void test_conf_load_err(const char *text, unsigned line, const char *fragment)
{
	char err[512] = "", prefix[PATH_MAX + 32];
	struct conf c;
	const char *path = test_conf_write("bad.conf", text);
	assert_int_equal(conf_load(path, &c, err, sizeof err), -1);
	snprintf(prefix, sizeof prefix, "%s:%u: ", path, line);
	if (strncmp(err, prefix, strlen(prefix)) != 0 || strstr(err + strlen(prefix), fragment) == NULL)
		fail_msg("for:\n%s\nexpected '%s%s...', got '%s'", text, prefix, fragment, err);
	/* a failed load leaves nothing behind */
	assert_null(c.hostname);
	assert_null(c.listens);
	conf_free(&c);
}

static void test_conf_good_file(void **state)
{
	(void)state;
	struct conf c;
	test_conf_write("users.pw", "alice@example.org:$y$j9T$abc$def\n");
	test_conf_load_ok("# a full configuration\n"
	                  "hostname mx.example.org   # trailing comment\n"
	                  "\n"
	                  "data-dir /srv/tern\n"
	                  "listen 192.0.2.1:25 smtp\n"
	                  "listen [2001:DB8::1]:587 submission\n"
	                  "listen 0.0.0.0:465 submissions\n"
	                  "\tlisten   127.0.0.1:110\tpop3\n"
	                  "listen [::]:995 pop3s\n"
	                  "tls-cert /etc/ssl/tern.pem\n"
	                  "tls-key /etc/ssl/tern.key\n"
	                  "domain Example.ORG\n"
	                  "domain example.net\n"
	                  "users users.pw\n"
	                  "alias Info@example.org Alice, bob@Remote.example\n"
	                  "recipient-delimiter -\n"
	                  "dns [2001:db8::53]\n"
	                  "smtp-port 2525\n"
	                  "relay-host [smtp.example.net]:587\n"
	                  "max-message-size 10M\n"
	                  "queue-retry 30s 2h\n"
	                  "queue-lifetime 3d\n",
	                  &c);
	assert_string_equal(c.hostname, "mx.example.org");
	assert_string_equal(c.data_dir, "/srv/tern");
	assert_int_equal(c.nlistens, 5);
	assert_string_equal(c.listens[0].addr, "192.0.2.1");
	assert_int_equal(c.listens[0].port, 25);
	assert_int_equal(c.listens[0].role, ROLE_SMTP);
	assert_string_equal(c.listens[1].addr, "2001:db8::1");
	assert_int_equal(c.listens[1].port, 587);
	assert_int_equal(c.listens[1].role, ROLE_SUBMISSION);
	assert_int_equal(c.listens[2].role, ROLE_SUBMISSIONS);
	assert_int_equal(c.listens[3].role, ROLE_POP3);
	assert_string_equal(c.listens[4].addr, "::");
	assert_int_equal(c.listens[4].role, ROLE_POP3S);
	assert_string_equal(c.tls_cert, "/etc/ssl/tern.pem");
	assert_string_equal(c.tls_key, "/etc/ssl/tern.key");
	assert_int_equal(c.ndomains, 2);
	assert_string_equal(c.domains[0], "example.org");
	assert_string_equal(c.domains[1], "example.net");
	assert_int_equal(c.nusers, 1);
	/* the explicit alias, then the default postmaster of example.org */
	assert_int_equal(c.naliases, 2);
	assert_string_equal(c.aliases[0].address, "info@example.org");
	assert_int_equal(c.aliases[0].ntargets, 2);
	assert_string_equal(c.aliases[0].targets[0], "alice@example.org");
	assert_string_equal(c.aliases[0].targets[1], "bob@remote.example");
	assert_false(c.aliases[0].implicit);
	assert_int_equal(c.recipient_delimiter, '-');
	assert_string_equal(c.dns, "[2001:db8::53]:53");
	assert_string_equal(c.dns_addr, "2001:db8::53");
	assert_int_equal(c.dns_port, 53);
	assert_int_equal(c.smtp_port, 2525);
	assert_string_equal(c.relay_host, "smtp.example.net:587");
	assert_string_equal(c.relay_name, "smtp.example.net");
	assert_int_equal(c.relay_port, 587);
	assert_int_equal(c.max_message_size, 10 * 1024 * 1024);
	assert_int_equal(c.queue_retry_min, 30);
	assert_int_equal(c.queue_retry_max, 7200);
	assert_int_equal(c.queue_lifetime, 3 * 86400);
	assert_non_null(c.path);
	conf_free(&c);
	conf_free(&c); /* idempotent */
}

static void test_conf_defaults(void **state)
{
	(void)state;
	struct conf c;
	char host[256] = "";
	test_conf_load_ok("# nothing but a comment\n\n   \n", &c);
	gethostname(host, sizeof host - 1);
	assert_string_equal(c.hostname, host[0] ? host : "localhost");
	assert_string_equal(c.data_dir, "/var/lib/tern");
	assert_int_equal(c.ndomains, 1);
	assert_string_equal(c.domains[0], "localhost");
	assert_null(c.tls_cert);
	assert_null(c.tls_key);
	assert_null(c.users_file);
	assert_int_equal(c.nusers, 0);
	assert_int_equal(c.naliases, 0);
	assert_int_equal(c.recipient_delimiter, '+');
	assert_null(c.dns);
	assert_int_equal(c.smtp_port, 25);
	assert_null(c.relay_host);
	assert_int_equal(c.max_message_size, 35 * 1024 * 1024);
	assert_int_equal(c.queue_retry_min, 300);
	assert_int_equal(c.queue_retry_max, 3600);
	assert_int_equal(c.queue_lifetime, 5 * 86400);
	/* no listen lines: every role on its standard port */
	static const int ports[] = {25, 587, 465, 110, 995, 143, 993};
	assert_int_equal(c.nlistens, 7);
	for (size_t i = 0; i < 7; i++) {
		assert_string_equal(c.listens[i].addr, "0.0.0.0");
		assert_int_equal(c.listens[i].port, ports[i]);
		assert_int_equal(c.listens[i].role, (enum conf_role)i);
	}
	conf_free(&c);

	/* relay-host without port: smtp-port, as Postfix's smtp_tcp_port */
	test_conf_load_ok("relay-host relay.example\nsmtp-port 26\ndns 192.0.2.53:5353\n", &c);
	assert_string_equal(c.relay_host, "relay.example");
	assert_int_equal(c.relay_port, 26);
	assert_string_equal(c.dns, "192.0.2.53:5353");
	assert_int_equal(c.dns_port, 5353);
	conf_free(&c);
	test_conf_load_ok("relay-host [2001:db8::25]:2525\nrecipient-delimiter none\n", &c);
	assert_string_equal(c.relay_host, "[2001:db8::25]:2525");
	assert_string_equal(c.relay_name, "2001:db8::25");
	assert_int_equal(c.recipient_delimiter, '\0');
	conf_free(&c);
}

static void test_conf_embedded_default(void **state)
{
	(void)state;
	struct conf c;
	char err[256], cwd[PATH_MAX], want[PATH_MAX + 16];
	static const int ports[] = {2525, 2587, 2465, 2110, 2995, 2143, 2993};
	assert_int_equal(conf_load_default(&c, err, sizeof err), 0);
	assert_null(c.path);
	assert_non_null(getcwd(cwd, sizeof cwd));
	snprintf(want, sizeof want, "%s/tern-data", cwd);
	assert_string_equal(c.data_dir, want);
	assert_int_equal(c.nlistens, 7);
	for (size_t i = 0; i < 7; i++) {
		assert_string_equal(c.listens[i].addr, "127.0.0.1");
		assert_int_equal(c.listens[i].port, ports[i]);
		assert_int_equal(c.listens[i].role, (enum conf_role)i);
	}
	assert_int_equal(c.ndomains, 1);
	assert_string_equal(c.domains[0], "localhost");
	assert_null(c.users_file);
	assert_int_equal(c.max_message_size, 35 * 1024 * 1024);
	conf_free(&c);
}

static void test_conf_errors(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		unsigned line;
		const char *fragment;
	} cases[] = {
		{"hostname a\n\n# c\nlisen 1.2.3.4:25 smtp\n", 4, "unknown keyword 'lisen'"},
		{"Hostname x\n", 1, "unknown keyword 'Hostname'"},
		{"hostname\n", 1, "wrong number of arguments for 'hostname'"},
		{"hostname a b\n", 1, "wrong number of arguments for 'hostname'"},
		{"hostname a\nhostname b\n", 2, "duplicate 'hostname' (already set on line 1)"},
		{"hostname bad!name\n", 1, "invalid host name 'bad!name'"},
		{"hostname -a.example\n", 1, "invalid host name"},
		{"hostname a..b\n", 1, "invalid host name"},
		{"data-dir /a\ndata-dir /b\n", 2, "duplicate 'data-dir'"},
		{"listen 1.2.3.4:25\n", 1, "wrong number of arguments for 'listen'"},
		{"listen 1.2.3.4 smtp\n", 1, "invalid listen address '1.2.3.4': missing :PORT"},
		{"listen 1.2.3.4:0 smtp\n", 1, "the port must be a number from 1 to 65535"},
		{"listen 1.2.3.4:65536 smtp\n", 1, "the port must be a number"},
		{"listen 1.2.3.4:x smtp\n", 1, "the port must be a number"},
		{"listen 1.2.3:25 smtp\n", 1, "not a numeric IPv4 address"},
		{"listen host.example:25 smtp\n", 1, "not a numeric IPv4 address"},
		{"listen ::1:25 smtp\n", 1, "must be written in brackets"},
		{"listen [::1:25 smtp\n", 1, "missing ']'"},
		{"listen [1.2.3.4]:25 smtp\n", 1, "brackets are for IPv6"},
		{"listen [::1]x smtp\n", 1, "unexpected text after ']'"},
		{"listen 1.2.3.4:25 imap4\n", 1, "unknown listen role 'imap4'"},
		{"listen 1.2.3.4:25 smtp\nlisten 1.2.3.4:25 pop3\n", 2, "conflicts with line 1"},
		{"listen [::1]:25 smtp\nlisten [0::1]:25 smtp\n", 2, "conflicts with line 1"},
		{"listen 1.2.3.4:25 smtp\n\nlisten 0.0.0.0:25 smtp\n", 3, "conflicts with line 1"},
		{"listen [::]:25 smtp\nlisten [::1]:25 smtp\n", 2, "conflicts with line 1"},
		{"tls-cert /a\n", 1, "tls-cert given without tls-key"},
		{"\ntls-key /a\n", 2, "tls-key given without tls-cert"},
		{"domain a.example\ndomain A.example\n", 2, "domain 'A.example' is listed twice"},
		{"domain a_b!\n", 1, "invalid domain"},
		{"users a\nusers b\n", 2, "duplicate 'users'"},
		{"alias a@localhost\n", 1, "wrong number of arguments for 'alias'"},
		{"alias a@localhost ,\n", 1, "alias 'a@localhost' has no target"},
		{"alias nodomain b@localhost\n", 1, "invalid alias address 'nodomain'"},
		{"alias a@localhost b@\n", 1, "invalid alias target 'b@'"},
		{"alias a@localhost b@localhost\nalias A@localhost c@x\n", 2,
		 "alias 'a@localhost' already defined on line 1"},
		{"domain example.org\n\nalias a@example.com b@x\n", 3, "'example.com' is not a configured domain"},
		{"recipient-delimiter ++\n", 1, "invalid recipient-delimiter '++'"},
		{"recipient-delimiter a\n", 1, "invalid recipient-delimiter"},
		{"recipient-delimiter @\n", 1, "invalid recipient-delimiter"},
		{"dns resolver.example\n", 1, "invalid dns server 'resolver.example'"},
		{"dns 1.2.3.4:99999\n", 1, "invalid dns server"},
		{"smtp-port 0\n", 1, "invalid smtp-port '0'"},
		{"smtp-port -25\n", 1, "invalid smtp-port"},
		{"relay-host bad_host!:25\n", 1, "invalid relay-host"},
		{"relay-host relay.example:0\n", 1, "invalid relay-host"},
		{"max-message-size 35X\n", 1, "invalid max-message-size '35X'"},
		{"max-message-size 0\n", 1, "invalid max-message-size"},
		{"max-message-size 99999999999G\n", 1, "invalid max-message-size '99999999999G'"},
		{"max-message-size 18446744073709551616\n", 1, "invalid max-message-size"},
		{"queue-retry 5m\n", 1, "wrong number of arguments for 'queue-retry'"},
		{"queue-retry 1h 5m\n", 1, "queue-retry minimum 1h is larger than maximum 5m"},
		{"queue-retry 5x 1h\n", 1, "invalid queue-retry duration '5x'"},
		{"queue-retry 0 1h\n", 1, "invalid queue-retry duration '0'"},
		{"queue-lifetime 5M\n", 1, "invalid queue-lifetime duration '5M'"},
		{"queue-lifetime 99999999d\n", 1, "invalid queue-lifetime duration"},
		{"queue-lifetime 1d 2d\n", 1, "wrong number of arguments"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		test_conf_load_err(cases[i].text, cases[i].line, cases[i].fragment);

	/* a NUL byte cannot hide the rest of a line */
	char err[512], want[PATH_MAX + 64];
	struct conf c;
	const char *path = test_conf_write("nul.conf", "");
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fwrite("hostname a\0b\n", 1, 13, f);
	fclose(f);
	assert_int_equal(conf_load(path, &c, err, sizeof err), -1);
	snprintf(want, sizeof want, "%s:1: NUL byte in line", path);
	assert_string_equal(err, want);
}

static void test_conf_missing_file(void **state)
{
	(void)state;
	struct conf c;
	char err[512], path[PATH_MAX], want[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/does-not-exist.conf", test_conf_dir);
	assert_int_equal(conf_load(path, &c, err, sizeof err), -1);
	snprintf(want, sizeof want, "%s: No such file or directory", path);
	assert_string_equal(err, want);
	/* a directory is no file either */
	assert_int_equal(conf_load(test_conf_dir, &c, err, sizeof err), -1);
	snprintf(want, sizeof want, "%s: Is a directory", test_conf_dir);
	assert_string_equal(err, want);
	/* a tiny error buffer is cut, never overrun */
	char tiny[8];
	assert_int_equal(conf_load(path, &c, tiny, sizeof tiny), -1);
	assert_int_equal(strlen(tiny), 7);
}

static void test_conf_durations(void **state)
{
	(void)state;
	unsigned d;
	assert_int_equal(conf_parse_duration("30s", &d), 0);
	assert_int_equal(d, 30);
	assert_int_equal(conf_parse_duration("45", &d), 0);
	assert_int_equal(d, 45);
	assert_int_equal(conf_parse_duration("5m", &d), 0);
	assert_int_equal(d, 300);
	assert_int_equal(conf_parse_duration("2h", &d), 0);
	assert_int_equal(d, 7200);
	assert_int_equal(conf_parse_duration("1d", &d), 0);
	assert_int_equal(d, 86400);
	assert_int_equal(conf_parse_duration("0", &d), 0);
	assert_int_equal(d, 0);
	assert_int_equal(conf_parse_duration("4294967295", &d), 0);
	assert_int_equal(d, 4294967295u);
	assert_int_equal(conf_parse_duration("49710d", &d), 0);
	static const char *bad[] = {"", "m", "5 m", " 5m", "5m ", "-5m", "+5m", "5mm", "5M", "5w", "1.5h",
	                            "4294967296", "49711d", "71582789m", "1193047h", "99999999999999999999"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (conf_parse_duration(bad[i], &d) != -1)
			fail_msg("duration '%s' accepted", bad[i]);
}

static void test_conf_sizes(void **state)
{
	(void)state;
	uint64_t s;
	assert_int_equal(conf_parse_size("35M", &s), 0);
	assert_int_equal(s, 36700160);
	assert_int_equal(conf_parse_size("512k", &s), 0);
	assert_int_equal(s, 524288);
	assert_int_equal(conf_parse_size("512K", &s), 0);
	assert_int_equal(s, 524288);
	assert_int_equal(conf_parse_size("1G", &s), 0);
	assert_int_equal(s, 1073741824);
	assert_int_equal(conf_parse_size("1000", &s), 0);
	assert_int_equal(s, 1000);
	assert_int_equal(conf_parse_size("18446744073709551615", &s), 0);
	assert_true(s == UINT64_MAX);
	assert_int_equal(conf_parse_size("17179869183G", &s), 0);
	static const char *bad[] = {"", "M", "35 M", "35MB", "-1", "1.5M", "1T", "99999999999G",
	                            "17179869184G", "18446744073709551616", "99999999999999999999999"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (conf_parse_size(bad[i], &s) != -1)
			fail_msg("size '%s' accepted", bad[i]);
}

static void test_conf_relative_paths(void **state)
{
	(void)state;
	struct conf c;
	char want[PATH_MAX + 32], err[512], cwd[PATH_MAX], rel[PATH_MAX];
	test_conf_write("u.pw", "\n");
	test_conf_load_ok("data-dir data\ntls-cert ./certs/c.pem\ntls-key /abs/k.pem\nusers u.pw\n", &c);
	snprintf(want, sizeof want, "%s/data", test_conf_dir);
	assert_string_equal(c.data_dir, want);
	snprintf(want, sizeof want, "%s/certs/c.pem", test_conf_dir);
	assert_string_equal(c.tls_cert, want);
	assert_string_equal(c.tls_key, "/abs/k.pem");
	snprintf(want, sizeof want, "%s/u.pw", test_conf_dir);
	assert_string_equal(c.users_file, want);
	conf_free(&c);

	/* a relative config path: resolved against the cwd, made absolute */
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(test_conf_dir), 0);
	assert_int_equal(conf_load("./tern.conf", &c, err, sizeof err), 0);
	snprintf(want, sizeof want, "%s/data", test_conf_dir);
	assert_string_equal(c.data_dir, want);
	conf_free(&c);
	assert_int_equal(chdir(cwd), 0);

	/* ... and one with a directory part */
	snprintf(rel, sizeof rel, "%s/tern.conf", test_conf_dir);
	assert_int_equal(chdir("/tmp"), 0);
	assert_int_equal(conf_load(rel + strlen("/tmp/"), &c, err, sizeof err), 0);
	assert_string_equal(c.data_dir, want);
	conf_free(&c);
	assert_int_equal(chdir(cwd), 0);
}

static void test_conf_users(void **state)
{
	(void)state;
	struct conf c;
	test_conf_write("users.pw", "# accounts\n"
	                            "\n"
	                            "Alice@Example.ORG:{BLF-CRYPT}$2b$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui:1000:1000::/home/a::\n"
	                            "bob@example.org:$y$j9T$salt$hash\r\n"
	                            "  carol@other.example:{SHA512-CRYPT}$6$rounds=5000$s$h:::extra\n"
	                            "locked@example.org:!\n"
	                            "des@example.org:abcdefghijklm\n");
	test_conf_load_ok("domain example.org\ndomain other.example\nusers users.pw\n", &c);
	assert_int_equal(c.nusers, 5);
	assert_string_equal(c.users[0].address, "alice@example.org");
	assert_string_equal(c.users[0].hash, "$2b$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui");
	assert_string_equal(c.users[1].hash, "$y$j9T$salt$hash");
	assert_string_equal(c.users[2].address, "carol@other.example");
	assert_string_equal(c.users[2].hash, "$6$rounds=5000$s$h");
	assert_string_equal(c.users[3].hash, "!");

	const struct conf_user *u = conf_find_user(&c, "ALICE@example.Org");
	assert_non_null(u);
	assert_ptr_equal(u, &c.users[0]);
	assert_null(conf_find_user(&c, "alice"));
	assert_null(conf_find_user(&c, "nobody@example.org"));
	assert_null(conf_find_user(&c, NULL));
	assert_true(conf_is_local_domain(&c, "EXAMPLE.org"));
	assert_false(conf_is_local_domain(&c, "example.org."));
	assert_false(conf_is_local_domain(&c, "sub.example.org"));
	assert_false(conf_is_local_domain(&c, NULL));

	/* the default postmasters: first user of each domain */
	assert_int_equal(c.naliases, 2);
	const struct conf_alias *a = conf_find_alias(&c, "PostMaster@example.org");
	assert_non_null(a);
	assert_true(a->implicit);
	assert_int_equal(a->ntargets, 1);
	assert_string_equal(a->targets[0], "alice@example.org");
	a = conf_find_alias(&c, "postmaster@other.example");
	assert_non_null(a);
	assert_string_equal(a->targets[0], "carol@other.example");
	conf_free(&c);

	/* CONF_LOAD_NO_USERS: the file is not even opened */
	char err[512];
	const char *path = test_conf_write("nousers.conf", "users /nonexistent/users\n");
	assert_int_equal(conf_load_flags(path, CONF_LOAD_NO_USERS, &c, err, sizeof err), 0);
	assert_string_equal(c.users_file, "/nonexistent/users");
	assert_int_equal(c.nusers, 0);
	conf_free(&c);
}

static void test_conf_postmaster(void **state)
{
	(void)state;
	struct conf c;
	/* an explicit alias wins; a domain without users gets none */
	test_conf_write("users.pw", "z@a.example:$y$x$y$z\nb@a.example:$y$x$y$z\n");
	test_conf_load_ok("domain a.example\ndomain b.example\nusers users.pw\n"
	                  "alias postmaster@a.example b\n",
	                  &c);
	assert_int_equal(c.naliases, 1);
	assert_false(c.aliases[0].implicit);
	assert_string_equal(c.aliases[0].targets[0], "b@a.example");
	assert_null(conf_find_alias(&c, "postmaster@b.example"));
	conf_free(&c);

	/* without the explicit alias: the first user in file order */
	test_conf_load_ok("domain a.example\nusers users.pw\n", &c);
	assert_int_equal(c.naliases, 1);
	assert_string_equal(c.aliases[0].address, "postmaster@a.example");
	assert_string_equal(c.aliases[0].targets[0], "z@a.example");
	conf_free(&c);

	/* a postmaster user needs no alias */
	test_conf_write("users.pw", "z@a.example:$y$x$y$z\nPostmaster@a.example:$y$x$y$z\n");
	test_conf_load_ok("domain a.example\nusers users.pw\n", &c);
	assert_int_equal(c.naliases, 0);
	conf_free(&c);
}

static void test_conf_users_errors(void **state)
{
	(void)state;
	static const struct {
		const char *users;
		unsigned line;
		const char *fragment;
	} cases[] = {
		{"# c\nalice@localhost\n", 2, "missing ':' between address and hash"},
		{":$y$j9T$a$b\n", 1, "empty address"},
		{"alice:$y$j9T$a$b\n", 1, "invalid address 'alice'"},
		{"alice@elsewhere.example:$y$j9T$a$b\n", 1, "'elsewhere.example' is not a configured domain"},
		{"a@localhost:$y$a$b$c\n\nA@LOCALHOST:$y$a$b$c\n", 3, "user 'a@localhost' already defined on line 1"},
		{"a@localhost:\n", 1, "has an empty hash"},
		{"a@localhost:{PLAIN}secret\n", 1, "scheme {PLAIN} is not supported"},
		{"a@localhost:{CRYPT$y$a$b\n", 1, "{SCHEME} prefix without '}'"},
		{"a@localhost:5f4dcc3b5aa765d61d8327deb882cf99\n", 1, "not a crypt(3) string"},
	};
	char prefix[PATH_MAX + 32], err[512];
	struct conf c;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *upath = test_conf_write("bad-users.pw", cases[i].users);
		const char *cpath = test_conf_write("u.conf", "users bad-users.pw\n");
		assert_int_equal(conf_load(cpath, &c, err, sizeof err), -1);
		snprintf(prefix, sizeof prefix, "%s:%u: ", upath, cases[i].line);
		if (strncmp(err, prefix, strlen(prefix)) != 0 || strstr(err, cases[i].fragment) == NULL)
			fail_msg("expected '%s%s...', got '%s'", prefix, cases[i].fragment, err);
	}
	/* a missing users file names the `users` line of the configuration */
	test_conf_load_err("domain localhost\n\nusers missing.pw\n", 3, "cannot read users file ");
	const char *cpath = test_conf_write("u.conf", "users missing.pw\n");
	assert_int_equal(conf_load(cpath, &c, err, sizeof err), -1);
	assert_non_null(strstr(err, "missing.pw: No such file or directory"));
}

static void test_conf_aliases(void **state)
{
	(void)state;
	struct conf c;
	test_conf_load_ok("domain example.org\n"
	                  "alias Sales@Example.org Alice,BOB@remote.example , carol  dave,,alice\n"
	                  "alias x@example.org y\n",
	                  &c);
	assert_int_equal(c.naliases, 2);
	const struct conf_alias *a = conf_find_alias(&c, "SALES@example.ORG");
	assert_non_null(a);
	assert_string_equal(a->address, "sales@example.org");
	assert_int_equal(a->ntargets, 4); /* the second alice is dropped */
	assert_string_equal(a->targets[0], "alice@example.org");
	assert_string_equal(a->targets[1], "bob@remote.example");
	assert_string_equal(a->targets[2], "carol@example.org");
	assert_string_equal(a->targets[3], "dave@example.org");
	assert_null(conf_find_alias(&c, "sales"));
	assert_null(conf_find_alias(&c, NULL));
	/* no users file: no default postmaster */
	assert_null(conf_find_alias(&c, "postmaster@example.org"));
	conf_free(&c);
}

/* Field-by-field equality, ignoring only path and the implicit marks. */
static void test_conf_assert_same(const struct conf *a, const struct conf *b)
{
	assert_string_equal(a->hostname, b->hostname);
	assert_string_equal(a->data_dir, b->data_dir);
	assert_int_equal(a->nlistens, b->nlistens);
	for (size_t i = 0; i < a->nlistens; i++) {
		assert_string_equal(a->listens[i].addr, b->listens[i].addr);
		assert_int_equal(a->listens[i].port, b->listens[i].port);
		assert_int_equal(a->listens[i].role, b->listens[i].role);
	}
	if (a->tls_cert == NULL || b->tls_cert == NULL)
		assert_ptr_equal(a->tls_cert, b->tls_cert);
	else
		assert_string_equal(a->tls_cert, b->tls_cert);
	if (a->tls_key == NULL || b->tls_key == NULL)
		assert_ptr_equal(a->tls_key, b->tls_key);
	else
		assert_string_equal(a->tls_key, b->tls_key);
	assert_int_equal(a->ndomains, b->ndomains);
	for (size_t i = 0; i < a->ndomains; i++)
		assert_string_equal(a->domains[i], b->domains[i]);
	if (a->users_file == NULL || b->users_file == NULL)
		assert_ptr_equal(a->users_file, b->users_file);
	else
		assert_string_equal(a->users_file, b->users_file);
	assert_int_equal(a->nusers, b->nusers);
	for (size_t i = 0; i < a->nusers; i++) {
		assert_string_equal(a->users[i].address, b->users[i].address);
		assert_string_equal(a->users[i].hash, b->users[i].hash);
	}
	assert_int_equal(a->naliases, b->naliases);
	for (size_t i = 0; i < a->naliases; i++) {
		assert_string_equal(a->aliases[i].address, b->aliases[i].address);
		assert_int_equal(a->aliases[i].ntargets, b->aliases[i].ntargets);
		for (size_t t = 0; t < a->aliases[i].ntargets; t++)
			assert_string_equal(a->aliases[i].targets[t], b->aliases[i].targets[t]);
	}
	assert_int_equal(a->recipient_delimiter, b->recipient_delimiter);
	if (a->dns == NULL || b->dns == NULL)
		assert_ptr_equal(a->dns, b->dns);
	else
		assert_string_equal(a->dns, b->dns);
	assert_string_equal(a->dns_addr, b->dns_addr);
	assert_int_equal(a->dns_port, b->dns_port);
	assert_int_equal(a->smtp_port, b->smtp_port);
	if (a->relay_host == NULL || b->relay_host == NULL)
		assert_ptr_equal(a->relay_host, b->relay_host);
	else
		assert_string_equal(a->relay_host, b->relay_host);
	assert_int_equal(a->relay_port, b->relay_port);
	assert_true(a->max_message_size == b->max_message_size);
	assert_int_equal(a->queue_retry_min, b->queue_retry_min);
	assert_int_equal(a->queue_retry_max, b->queue_retry_max);
	assert_int_equal(a->queue_lifetime, b->queue_lifetime);
}

/* Print c into DIR/printed.conf, load that, compare; returns the text. */
static char *test_conf_round_trip(const struct conf *c)
{
	char path[PATH_MAX], err[512];
	struct conf again;
	snprintf(path, sizeof path, "%s/printed.conf", test_conf_dir);
	test_conf_write("printed.conf", "");
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	conf_print(c, f);
	assert_int_equal(fclose(f), 0);
	if (conf_load(path, &again, err, sizeof err) != 0)
		fail_msg("printed configuration does not load: %s", err);
	test_conf_assert_same(c, &again);
	conf_free(&again);

	f = fopen(path, "r");
	assert_non_null(f);
	char *text = calloc(1, 65536);
	assert_non_null(text);
	size_t n = fread(text, 1, 65535, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

static void test_conf_print(void **state)
{
	(void)state;
	struct conf c;
	char err[256];
	test_conf_write("users.pw", "alice@example.org:{CRYPT}$y$j9T$abc$def:1:2\nbob@example.org:!\n");
	test_conf_load_ok("hostname mx.example.org\n"
	                  "data-dir /srv/tern\n"
	                  "listen 192.0.2.1:25 smtp\n"
	                  "listen [2001:db8::1]:587 submission\n"
	                  "tls-cert c.pem\n"
	                  "tls-key k.pem\n"
	                  "domain example.org\n"
	                  "domain example.net\n"
	                  "users users.pw\n"
	                  "alias info@example.org alice bob@remote.example\n"
	                  "alias all@example.net alice@example.org\n"
	                  "recipient-delimiter none\n"
	                  "dns [2001:db8::53]:5353\n"
	                  "smtp-port 2525\n"
	                  "relay-host relay.example\n"
	                  "max-message-size 1536k\n"
	                  "queue-retry 90s 2d\n"
	                  "queue-lifetime 36h\n",
	                  &c);
	char *text = test_conf_round_trip(&c);
	static const char *lines[] = {
		"\nhostname mx.example.org\n",
		"\nlisten [2001:db8::1]:587 submission\n",
		"\nalias info@example.org alice@example.org,bob@remote.example\n",
		"\nalias postmaster@example.org alice@example.org  # default",
		"\nrecipient-delimiter none\n",
		"\ndns [2001:db8::53]:5353\n",
		"\nrelay-host relay.example\n",
		"\nmax-message-size 1536k\n",
		"\nqueue-retry 90s 2d\n",
		"\nqueue-lifetime 36h\n",
	};
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
		if (strstr(text, lines[i]) == NULL)
			fail_msg("'%s' not in:\n%s", lines[i], text);
	free(text);
	conf_free(&c);

	/* defaults print in units and with commented-out keywords */
	test_conf_load_ok("max-message-size 1000\nqueue-lifetime 3601\n", &c);
	text = test_conf_round_trip(&c);
	static const char *dlines[] = {
		"\nmax-message-size 1000\n", "\nqueue-retry 5m 1h\n", "\nqueue-lifetime 3601s\n",
		"\n# relay-host (none",      "\n# dns (none",         "\n# tls-cert (none",
		"\n# users (none",           "\nrecipient-delimiter +\n", "\nlisten 0.0.0.0:25 smtp\n",
	};
	for (size_t i = 0; i < sizeof dlines / sizeof dlines[0]; i++)
		if (strstr(text, dlines[i]) == NULL)
			fail_msg("'%s' not in:\n%s", dlines[i], text);
	free(text);
	conf_free(&c);

	test_conf_load_ok("", &c);
	text = test_conf_round_trip(&c);
	assert_non_null(strstr(text, "\nmax-message-size 35M\n"));
	assert_non_null(strstr(text, "\nqueue-lifetime 5d\n"));
	free(text);
	conf_free(&c);

	/* the embedded default round-trips as well */
	assert_int_equal(conf_load_default(&c, err, sizeof err), 0);
	text = test_conf_round_trip(&c);
	assert_non_null(strstr(text, "\nlisten 127.0.0.1:2995 pop3s\n"));
	free(text);
	conf_free(&c);
}

static void test_conf_choose_path(void **state)
{
	(void)state;
	bool must;
	assert_string_equal(conf_choose_path("/x/y.conf", &must), "/x/y.conf");
	assert_true(must);
	setenv("TERN_CONFIG", "/from/env.conf", 1);
	assert_string_equal(conf_choose_path("/x/y.conf", &must), "/x/y.conf");
	assert_string_equal(conf_choose_path(NULL, &must), "/from/env.conf");
	assert_true(must);
	setenv("TERN_CONFIG", "", 1);
	const char *p = conf_choose_path(NULL, &must);
	assert_false(must);
	unsetenv("TERN_CONFIG");
	const char *q = conf_choose_path(NULL, &must);
	assert_false(must);
	if (access("/etc/tern/tern.conf", F_OK) == 0) {
		assert_string_equal(q, "/etc/tern/tern.conf");
	} else {
		assert_null(p);
		assert_null(q);
	}
}

static void test_conf_role_names(void **state)
{
	(void)state;
	assert_string_equal(conf_role_name(ROLE_SMTP), "smtp");
	assert_string_equal(conf_role_name(ROLE_SUBMISSION), "submission");
	assert_string_equal(conf_role_name(ROLE_SUBMISSIONS), "submissions");
	assert_string_equal(conf_role_name(ROLE_POP3), "pop3");
	assert_string_equal(conf_role_name(ROLE_POP3S), "pop3s");
	assert_string_equal(conf_role_name((enum conf_role)99), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf_good_file),
		cmocka_unit_test(test_conf_defaults),
		cmocka_unit_test(test_conf_embedded_default),
		cmocka_unit_test(test_conf_errors),
		cmocka_unit_test(test_conf_missing_file),
		cmocka_unit_test(test_conf_durations),
		cmocka_unit_test(test_conf_sizes),
		cmocka_unit_test(test_conf_relative_paths),
		cmocka_unit_test(test_conf_users),
		cmocka_unit_test(test_conf_postmaster),
		cmocka_unit_test(test_conf_users_errors),
		cmocka_unit_test(test_conf_aliases),
		cmocka_unit_test(test_conf_print),
		cmocka_unit_test(test_conf_choose_path),
		cmocka_unit_test(test_conf_role_names),
	};
	return cmocka_run_group_tests(tests, test_conf_setup, test_conf_teardown);
}
