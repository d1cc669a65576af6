/*
 * orgdomain — the organizational domain through libpsl. See orgdomain.h.
 */
#include "base/orgdomain.h"

#include <ctype.h>
#include <libpsl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static const psl_ctx_t *orgdomain_psl;
static pthread_once_t orgdomain_once = PTHREAD_ONCE_INIT;

static void orgdomain_load(void)
{
	/* psl_latest: the newer of the system's list and the built-in one */
	orgdomain_psl = psl_latest(NULL);
	if (orgdomain_psl == NULL)
		orgdomain_psl = psl_builtin();
}

bool orgdomain(const char *domain, char *out, size_t outlen)
{
	char lower[256];
	size_t n = strlen(domain);
	while (n > 0 && domain[n - 1] == '.')
		n--; /* the root label */
	if (n == 0 || n >= sizeof lower)
		return false;
	for (size_t i = 0; i < n; i++)
		lower[i] = (char)tolower((unsigned char)domain[i]);
	lower[n] = '\0';
	pthread_once(&orgdomain_once, orgdomain_load);
	if (orgdomain_psl == NULL)
		return false;
	const char *r = psl_registrable_domain(orgdomain_psl, lower);
	if (r == NULL)
		return false;
	int k = snprintf(out, outlen, "%s", r);
	return k > 0 && (size_t)k < outlen;
}
