/*
 * queue_env — copying and freeing a message's envelope (struct
 * queue_env), as the scheduler and the tools hand it around; the file
 * format it is read from is queue_file.c's.
 */
#include "queue/queue_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int queue_file_dup_str(char **dst, const char *src)
{
	*dst = NULL;
	if (src == NULL)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -1;
}

int queue_env_dup(struct queue_env *dst, const struct queue_env *src)
{
	memset(dst, 0, sizeof *dst);
	memcpy(dst->id, src->id, sizeof dst->id);
	dst->arrival = src->arrival;
	dst->smtputf8 = src->smtputf8;
	dst->eightbit = src->eightbit;
	dst->content_len = src->content_len;
	dst->content_off = src->content_off;
	dst->junk = src->junk;
	if (queue_file_dup_str(&dst->sender, src->sender) < 0 || queue_file_dup_str(&dst->helo, src->helo) < 0 ||
	    queue_file_dup_str(&dst->client, src->client) < 0 || queue_file_dup_str(&dst->auth_user, src->auth_user) < 0 ||
	    queue_file_dup_str(&dst->fields, src->fields) < 0 || queue_file_dup_str(&dst->out_fields, src->out_fields) < 0)
		goto fail;
	if (src->nrcpts) {
		dst->rcpts = calloc(src->nrcpts, sizeof *dst->rcpts);
		if (dst->rcpts == NULL)
			goto fail;
		dst->nrcpts = src->nrcpts;
		for (size_t i = 0; i < src->nrcpts; i++) {
			struct queue_rcpt *d = &dst->rcpts[i];
			const struct queue_rcpt *r = &src->rcpts[i];
			d->state = r->state;
			d->attempts = r->attempts;
			d->next_try = r->next_try;
			if (queue_file_dup_str(&d->addr, r->addr) < 0 || queue_file_dup_str(&d->orcpt, r->orcpt) < 0 ||
			    queue_file_dup_str(&d->last_error, r->last_error) < 0)
				goto fail;
		}
	}
	return 0;
fail:
	queue_env_free(dst);
	errno = ENOMEM;
	return -1;
}

void queue_env_free(struct queue_env *env)
{
	if (env == NULL)
		return;
	for (size_t i = 0; i < env->nrcpts; i++) {
		free(env->rcpts[i].addr);
		free(env->rcpts[i].orcpt);
		free(env->rcpts[i].last_error);
	}
	free(env->rcpts);
	free(env->sender);
	free(env->helo);
	free(env->client);
	free(env->auth_user);
	free(env->fields);
	free(env->out_fields);
	memset(env, 0, sizeof *env);
}
