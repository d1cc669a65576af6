/*
 * conf_print — the effective configuration in the file's own syntax, for
 * `tern check`: every keyword once (the repeatable ones once per value),
 * defaults filled in, keywords without a value commented out with the
 * reason. Its output loads again with conf_load to the same values; the
 * unit tests hold it to that.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "conf/conf_internal.h"

/* Durations in the largest unit that divides them exactly: 300 -> 5m. */
static void conf_print_duration(FILE *f, unsigned s)
{
	static const struct {
		unsigned secs;
		char unit;
	} units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (s != 0 && s % units[i].secs == 0) {
			fprintf(f, "%u%c", s / units[i].secs, units[i].unit);
			return;
		}
	}
	fprintf(f, "%us", s);
}

/* Sizes likewise, in powers of 1024: 36700160 -> 35M. */
static void conf_print_size(FILE *f, uint64_t n)
{
	static const struct {
		uint64_t bytes;
		char unit;
	} units[] = {{1024ull * 1024 * 1024, 'G'}, {1024 * 1024, 'M'}, {1024, 'k'}};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (n != 0 && n % units[i].bytes == 0) {
			fprintf(f, "%" PRIu64 "%c", n / units[i].bytes, units[i].unit);
			return;
		}
	}
	fprintf(f, "%" PRIu64, n);
}

static void conf_print_opt(FILE *f, const char *kw, const char *value, const char *none)
{
	if (value != NULL)
		fprintf(f, "%s %s\n", kw, value);
	else
		fprintf(f, "# %s (none: %s)\n", kw, none);
}

void conf_print(const struct conf *c, void *stdio_file)
{
	FILE *f = stdio_file;
	fprintf(f, "# tern effective configuration, from %s\n",
	        c->path != NULL ? c->path : "the embedded default");
	fprintf(f, "hostname %s\n", c->hostname);
	fprintf(f, "data-dir %s\n", c->data_dir);
	for (size_t i = 0; i < c->nlistens; i++) {
		const struct conf_listen *l = &c->listens[i];
		bool v6 = strchr(l->addr, ':') != NULL;
		fprintf(f, v6 ? "listen [%s]:%d %s\n" : "listen %s:%d %s\n", l->addr, l->port,
		        conf_role_name(l->role));
	}
	conf_print_opt(f, "tls-cert", c->tls_cert, "a self-signed pair made in data-dir");
	conf_print_opt(f, "tls-key", c->tls_key, "a self-signed pair made in data-dir");
	for (size_t i = 0; i < c->ndomains; i++)
		fprintf(f, "domain %s\n", c->domains[i]);
	conf_print_opt(f, "users", c->users_file, "every local part of the domains is accepted");
	if (c->users_file != NULL)
		fprintf(f, "#   %zu user%s loaded\n", c->nusers, c->nusers == 1 ? "" : "s");
	for (size_t i = 0; i < c->naliases; i++) {
		const struct conf_alias *a = &c->aliases[i];
		fprintf(f, "alias %s ", a->address);
		for (size_t t = 0; t < a->ntargets; t++)
			fprintf(f, "%s%s", t ? "," : "", a->targets[t]);
		fputs(a->implicit ? "  # default: the domain's first user\n" : "\n", f);
	}
	if (c->recipient_delimiter != '\0')
		fprintf(f, "recipient-delimiter %c\n", c->recipient_delimiter);
	else
		fputs("recipient-delimiter none\n", f);
	conf_print_opt(f, "dns", c->dns, "the system resolver");
	fprintf(f, "smtp-port %d\n", c->smtp_port);
	conf_print_opt(f, "relay-host", c->relay_host, "MX lookups");
	fputs("max-message-size ", f);
	conf_print_size(f, c->max_message_size);
	fputs("\nqueue-retry ", f);
	conf_print_duration(f, c->queue_retry_min);
	fputc(' ', f);
	conf_print_duration(f, c->queue_retry_max);
	fputs("\nqueue-lifetime ", f);
	conf_print_duration(f, c->queue_lifetime);
	fputs("\ncommand-timeout ", f);
	conf_print_duration(f, c->command_timeout);
	fputc('\n', f);
	for (size_t i = 0; i < c->ndkim_keys; i++)
		fprintf(f, "dkim-key %s %s %s\n", c->dkim_keys[i].domain, c->dkim_keys[i].selector, c->dkim_keys[i].file);
	if (c->ndkim_keys == 0)
		fputs("# dkim-key (none: mail leaves unsigned)\n", f);
	fprintf(f, "inbound-auth %s\n", c->inbound_auth ? "on" : "off");
	fprintf(f, "dmarc-policy %s\n", c->dmarc_enforce ? "enforce" : "report");
}
