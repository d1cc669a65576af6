/*
 * fuzz_imap_parse — the IMAP command reader and argument parser on their
 * own: bytes split into reads by the first octet, literals accepted (or,
 * when announced over 4 KiB, discarded) as the engine would, then every
 * complete command parsed; every argument must lie inside the command
 * and every list inside the argument array, and every atom argument is
 * also tried as a sequence set, which must come out normalized.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/imap_parse.h"

static void fuzz_check_args(const struct imap_args *a, const char *cmd, size_t len)
{
	for (size_t i = 0; i < a->n; i++) {
		const struct imap_arg *g = &a->v[i];
		if (g->type == IMAP_ARG_LIST) {
			if (g->nlist > a->n || (g->nlist && (g->list < a->v || g->list + g->nlist > a->v + a->n)))
				abort();
			continue;
		}
		bool inside = g->s >= cmd && g->s + g->len <= cmd + len;
		bool unescaped = a->strings.data && g->s >= a->strings.data && g->s + g->len <= a->strings.data + a->strings.len + 1;
		if (g->len && !inside && !unescaped && g->type != IMAP_ARG_NIL)
			abort();
		if (g->type == IMAP_ARG_ATOM) {
			struct imap_seqset set;
			imap_seqset_init(&set);
			if (imap_seqset_parse(g->s, g->len, &set)) {
				imap_seqset_resolve(&set, 1000);
				imap_seqset_normalize(&set);
				struct buf out;
				buf_init(&out, 1 << 20);
				imap_seqset_format(&set, &out);
				buf_free(&out);
			}
			imap_seqset_free(&set);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = (data[0] % 64) + 1;
	const char *p = (const char *)data + 1;
	size_t n = size - 1;
	struct imap_reader r;
	imap_reader_init(&r);
	size_t off = 0;
	while (off < n) {
		size_t k = n - off < step ? n - off : step, used = 0;
		enum imap_read_result res = imap_reader_feed(&r, p + off, k, &used);
		if (used > k)
			abort();
		off += used;
		if (res == IMAP_READ_LITERAL) {
			if (r.lit_size > 4096)
				imap_reader_literal_discard(&r);
			else
				imap_reader_literal_accept(&r);
		} else if (res == IMAP_READ_COMMAND) {
			struct imap_args a;
			memset(&a, 0, sizeof a);
			if (imap_args_parse(r.cmd.data, r.cmd.len, &a) == IMAP_PARSE_OK)
				fuzz_check_args(&a, r.cmd.data, r.cmd.len);
			imap_args_free(&a);
			imap_reader_next(&r);
		} else if (res == IMAP_READ_TOO_LONG) {
			imap_reader_next(&r);
		} else if (used == 0 && k > 0) {
			abort(); /* MORE must consume everything */
		}
	}
	imap_reader_free(&r);
	return 0;
}
