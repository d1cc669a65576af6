/*
 * fuzz_dmarc — DMARC policy records (RFC 7489 6.3) and the verdict over
 * them: the parser must accept or refuse any text without reading past
 * it, and a parsed record must be within its ranges.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/orgdomain.h"
#include "proto/dmarc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *txt = malloc(size ? size : 1);
	if (txt == NULL)
		return 0;
	memcpy(txt, data, size);
	struct dmarc_record r;
	enum dmarc_parse st = dmarc_record_parse(txt, size, &r);
	if (st == DMARC_PARSE_OK) {
		if (r.pct > 100 || r.p > DMARC_P_REJECT || (r.has_sp && r.sp > DMARC_P_REJECT))
			abort();
		struct dmarc_input in;
		memset(&in, 0, sizeof in);
		in.from_domain = "news.example.org";
		in.have_record = true;
		in.record_at_org = size & 1;
		in.rec = r;
		in.sample = size % 100;
		in.spf = DMARC_AUTH_PASS;
		in.spf_domain = "example.net";
		struct dmarc_verdict v;
		dmarc_evaluate(&in, orgdomain, &v);
		if (v.result != DMARC_FAIL)
			abort();
	}
	free(txt);
	return 0;
}
