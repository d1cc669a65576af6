/*
 * service — see service.h. Owns the rows of the table and the accept
 * path every role shares: the limits (server_session_open), the one-line
 * refusal, then the role's start().
 */
#include "mta/service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "mta/imapd.h"
#include "mta/pop3d.h"
#include "mta/smtpd.h"

const struct service_kind *service_kind_of(enum conf_role role)
{
	switch (role) {
	case ROLE_SMTP:
		return &smtpd_kind_smtp;
	case ROLE_SUBMISSION:
		return &smtpd_kind_submission;
	case ROLE_SUBMISSIONS:
		return &smtpd_kind_submissions;
	case ROLE_POP3:
		return &pop3d_kind_pop3;
	case ROLE_POP3S:
		return &pop3d_kind_pop3s;
	case ROLE_IMAP:
		return &imapd_kind_imap;
	case ROLE_IMAPS:
		return &imapd_kind_imaps;
	}
	return NULL;
}

static const char *service_admit_text(enum server_admit why)
{
	switch (why) {
	case SERVER_STOPPING:
		return "shutting down";
	case SERVER_FULL:
		return "too many sessions";
	case SERVER_NET_FULL:
		return "too many sessions from this network";
	case SERVER_ADMIT:
		break;
	}
	return "refused";
}

static void service_accept_cb(void *arg, int fd, const struct sockaddr *sa, socklen_t salen)
{
	(void)salen;
	struct service *svc = arg;
	struct server_slot slot;
	enum server_admit why = server_session_open(svc->srv, sa, &slot);
	if (why == SERVER_ADMIT) {
		svc->kind->start(svc, fd, sa, &slot);
		return;
	}
	if (why != SERVER_STOPPING)
		log_msg("connect from [%s] role=%s refused=\"%s\"", slot.addr, svc->kind->name, service_admit_text(why));
	if (svc->kind->refusal) {
		/* One line on a fresh socket: the kernel's buffer takes it whole,
		 * or it is dropped with the connection. */
		char line[600];
		svc->kind->refusal(why, svc->srv->conf->hostname, line, sizeof line);
		ssize_t w = write(fd, line, strlen(line));
		(void)w;
	}
	close(fd);
}

struct service *service_listen(struct server *srv, const struct conf_listen *l, char *err, size_t errlen)
{
	const struct service_kind *kind = service_kind_of(l->role);
	if (kind == NULL) {
		snprintf(err, errlen, "%s:%d: role %s is not served", l->addr, l->port, conf_role_name(l->role));
		return NULL;
	}
	struct service *svc = calloc(1, sizeof *svc);
	if (svc == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	svc->srv = srv;
	svc->role = l->role;
	svc->kind = kind;
	svc->li = io_listen(srv->loop, l->addr, l->port, service_accept_cb, svc, err, errlen);
	if (svc->li == NULL) {
		free(svc);
		return NULL;
	}
	return svc;
}

void service_stop_listening(struct service *svc)
{
	io_listener_free(svc->li);
	svc->li = NULL;
}

void service_free(struct service *svc)
{
	if (svc == NULL)
		return;
	service_stop_listening(svc);
	free(svc);
}

unsigned service_active(const struct server *srv)
{
	unsigned n = 0;
	for (size_t i = 0; i < srv->nservices; i++)
		n += srv->services[i]->nsessions;
	return n;
}

void *service_session_new(struct service *svc, size_t size, int fd, const struct server_slot *slot)
{
	struct service_session *ss = calloc(1, size);
	if (ss == NULL) {
		struct server_slot copy = *slot;
		server_session_close(svc->srv, &copy);
		close(fd);
		return NULL;
	}
	ss->svc = svc;
	ss->srv = svc->srv;
	ss->slot = *slot;
	ss->started = time(NULL);
	server_session_id(svc->srv, svc->kind->id_prefix, ss->sid, sizeof ss->sid);
	ss->next = svc->sessions;
	if (ss->next)
		ss->next->prev = ss;
	svc->sessions = ss;
	svc->nsessions++;
	return ss;
}

void service_session_remove(struct service_session *ss)
{
	server_session_close(ss->srv, &ss->slot);
	if (ss->prev)
		ss->prev->next = ss->next;
	else
		ss->svc->sessions = ss->next;
	if (ss->next)
		ss->next->prev = ss->prev;
	ss->svc->nsessions--;
}
