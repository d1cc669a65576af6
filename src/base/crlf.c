/*
 * crlf — the size of stored text on the wire. See crlf.h.
 */
#include "base/crlf.h"

#include <string.h>

uint64_t crlf_wire_len(struct crlf_state *st, const char *p, size_t n)
{
	if (n == 0)
		return 0;
	uint64_t bare = 0;
	const char *q = p, *end = p + n;
	while ((q = memchr(q, '\n', (size_t)(end - q))) != NULL) {
		if (!(q == p ? st->cr : q[-1] == '\r'))
			bare++;
		q++;
	}
	st->cr = end[-1] == '\r';
	return (uint64_t)n + bare;
}
