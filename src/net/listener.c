/* The lws context of the server (see listener.h). */
#include "listener.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "http.h"
#include "lwslog.h"
#include "ws.h"

#if !defined(LWS_WITH_LIBEVENT)
#error "libwebsockets was built without LWS_WITH_LIBEVENT; sentinel-logd needs it"
#endif

/* Both protocols serve WebSockets: protocols[0] takes upgrades that arrive
 * before lws' deferred protocol init has run (http.c). Only protocols[0]
 * has session data: WebSocket state hangs on the wsi's opaque user data
 * (ws.c), so it does not depend on which protocol a connection is bound to. */
static const struct lws_protocols protocols[] = {
	{"http", (lws_callback_function *)http_callback, 0, 0, 0, NULL, 0},
	{"sentinel", (lws_callback_function *)ws_callback, 0, 65536, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

struct listener {
	struct lws_context *lws; /* NULLed by lws once destroyed */
	/* What lws is given by pointer, kept as long as the context. */
	lws_retry_bo_t keepalive; /* WebSocket ping and idle policy */
	struct lws_protocols protocols[sizeof protocols / sizeof protocols[0]];
};

/* Make "sentinel" the protocol of upgrades that name none (browsers). */
static const struct lws_protocol_vhost_options pvo_default = {NULL, NULL, "default", "1"};
static const struct lws_protocol_vhost_options pvo = {NULL, &pvo_default, "sentinel", ""};

listener *
listener_create(struct event_base *base, const struct listener_options *o,
		const struct endpoints *ep, char *errmsg)
{
	struct lws_context_creation_info info;
	void *loops[1] = {base};
	char where[INET6_ADDRSTRLEN + 16];
	listener *l;

	address_format(o->addr, o->port, where, sizeof where);
#if !defined(LWS_WITH_IPV6)
	if (o->addr->family == AF_INET6) {
		err_set(errmsg, ERR_INVAL,
			"cannot listen on %s: this build's libwebsockets has no IPv6 support "
			"(rebuild it with make lws)",
			where);
		return NULL;
	}
#endif
	l = calloc(1, sizeof *l);
	if (!l) {
		err_set(errmsg, ERR_NOMEM, "out of memory");
		return NULL;
	}
	lws_set_log_level(LLL_ERR | LLL_WARN | (o->verbose ? LLL_NOTICE : 0), lwslog_line);
	memcpy(l->protocols, protocols, sizeof protocols);
	l->protocols[0].per_session_data_size = http_session_size();

	memset(&info, 0, sizeof info);
	info.port = o->port;
	/* lws binds iface, a numeric address here, or every interface when
	 * NULL. An IPv4 address must turn IPv6 off: on an IPv6 socket lws
	 * would read it as "::", every interface. */
	info.iface = o->addr->any ? NULL : o->addr->ip;
	info.protocols = l->protocols;
	info.pvo = &pvo;
	info.user = (void *)ep;
	info.foreign_loops = loops;
	info.pcontext = &l->lws;
	info.options = LWS_SERVER_OPTION_LIBEVENT | LWS_SERVER_OPTION_VALIDATE_UTF8 |
		       LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE |
		       LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
	if (o->addr->family == AF_INET)
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	info.max_http_header_data = 4096;
	info.pt_serv_buf_size = 64 * 1024;
	/* Ping a quiet WebSocket after half the idle time, drop it after all. */
	l->keepalive.secs_since_valid_ping =
		(uint16_t)(o->idle_timeout / 2 ? o->idle_timeout / 2 : 1);
	l->keepalive.secs_since_valid_hangup = (uint16_t)o->idle_timeout;
	info.retry_and_idle_policy = &l->keepalive;
	info.timeout_secs = (unsigned int)o->handshake_timeout;
	info.keepalive_timeout = o->handshake_timeout;
	if (o->tls_cert) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = o->tls_cert;
		info.ssl_private_key_filepath = o->tls_key;
	}
	l->lws = lws_create_context(&info);
	if (!l->lws) {
		err_set(errmsg, ERR_SYS,
			"cannot listen on %s (address in use, or not an address of this host?)",
			where);
		free(l);
		return NULL;
	}
	return l;
}

int
listener_port(const listener *l)
{
	struct lws_vhost *vh = lws_get_vhost_by_name(l->lws, "default");

	return vh ? lws_get_vhost_listen_port(vh) : -1;
}

void
listener_destroy(listener *l)
{
	if (!l)
		return;
	if (l->lws)
		lws_context_destroy(l->lws);
	free(l);
}
