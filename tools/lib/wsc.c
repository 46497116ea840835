/*
 * The WebSocket clients of wsc.h.
 *
 * Messages that arrive whole in one receive callback (every event and
 * answer the server sends that fits the receive buffer) are handed over in
 * place; only fragmented ones are gathered, and a gathering buffer grown
 * past MSG_KEEP is freed after its message. WSI_DESTROY is the one
 * callback lws always gives a client connection, so it ends the connection
 * if CLIENT_CLOSED or CONNECTION_ERROR did not.
 */
#include "wsc.h"

#include <event2/event.h>
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#if !defined(LWS_WITH_LIBEVENT)
#error "libwebsockets was built without LWS_WITH_LIBEVENT; the tools need it"
#endif

/*
 * Receive buffer per connection: a frame part larger than this comes in
 * pieces. Kept small, since a load test opens many connections.
 */
#define RX_BUFFER_SIZE 16384
/* A gathering buffer grown past this is freed after its message. */
#define MSG_KEEP ((size_t)1 << 20)

/* End the connection once: tell the owner. */
static void
gone(struct wsc *c, const char *why)
{
	if (c->state == WSC_CLOSED)
		return;
	c->state = WSC_CLOSED;
	c->wsi = NULL;
	c->msg_len = 0;
	c->msg_binary = 0;
	c->ops->closed(c, why);
}

/* Forget the message gathered so far; free a large buffer. */
static void
msg_reset(struct wsc *c)
{
	c->msg_len = 0;
	c->msg_binary = 0;
	if (c->msg_cap > MSG_KEEP) {
		free(c->msg);
		c->msg = NULL;
		c->msg_cap = 0;
	}
}

/*
 * Gather one fragment; deliver the message when it is whole. Returns
 * non-zero to close the connection.
 */
static int
receive(struct wsc *c, struct lws *wsi, const char *in, size_t len)
{
	int whole = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
	int rc = 0;

	if (!c->msg_len && !c->msg_binary && lws_frame_is_binary(wsi)) {
		log_warn("ignoring a binary message from the server");
		c->msg_binary = 1;
	}
	if (c->msg_binary) {
		if (whole)
			c->msg_binary = 0;
		return 0;
	}
	if (!c->msg_len && whole)
		return c->ops->message(c, in, len);
	if (c->msg_len + len > c->msg_cap) {
		size_t cap = c->msg_cap ? c->msg_cap : 4096;
		char *bigger = NULL;
		while (cap < c->msg_len + len)
			cap *= 2;
		if (cap <= WSC_MSG_MAX)
			bigger = realloc(c->msg, cap);
		if (!bigger) {
			log_error("cannot hold a message of more than %zu bytes from the server",
				  c->msg_len + len);
			c->too_large = 1;
			return -1;
		}
		c->msg = bigger;
		c->msg_cap = cap;
	}
	memcpy(c->msg + c->msg_len, in, len);
	c->msg_len += len;
	if (!whole)
		return 0;
	rc = c->ops->message(c, c->msg, c->msg_len);
	msg_reset(c);
	return rc;
}

/* The one lws protocol callback: route each event to the connection's ops. */
static int
callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct wsc *c = user;

	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (!c)
			return -1;
		c->state = WSC_OPEN;
		c->wsi = wsi;
		c->ops->established(c);
		if (c->closing)
			lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (!c || c->state != WSC_OPEN)
			return 0;
		if (receive(c, wsi, in, len)) {
			lws_close_reason(wsi,
					 c->too_large ? LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE
						      : LWS_CLOSE_STATUS_NORMAL,
					 NULL, 0);
			return -1;
		}
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (!c || c->state != WSC_OPEN)
			return 0;
		if (c->closing || (c->ops->writeable && c->ops->writeable(c))) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
			return -1;
		}
		return 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (!c)
			return 0;
		c->http_status = lws_http_client_http_response(wsi);
		gone(c, in && len ? (const char *)in : "connection failed");
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (c)
			gone(c, c->too_large ? "a message was too large" : "closed");
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		if (c && c->state != WSC_IDLE)
			gone(c, "connection dropped");
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
	{"sentinel-client", callback, 0, RX_BUFFER_SIZE, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Ping an idle connection; give up on one that stays silent. */
static const lws_retry_bo_t keepalive = {
	.secs_since_valid_ping = 20,
	.secs_since_valid_hangup = 40,
};

struct lws_context *
wsc_context_new(struct event_base *base, int timeout_s, int tls)
{
	struct lws_context_creation_info info;
	struct lws_context *ctx;
	void *loops[1] = {base};

	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.foreign_loops = loops;
	info.options = LWS_SERVER_OPTION_LIBEVENT;
	if (tls)
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.timeout_secs = (unsigned)(timeout_s > 0 ? timeout_s : 10);
	info.pt_serv_buf_size = 65536;
	ctx = lws_create_context(&info);
	if (!ctx)
		log_error("cannot create a libwebsockets client context");
	return ctx;
}

void
wsc_connect(struct wsc *c, struct lws_context *ctx, const struct url *u, const char *address,
	    const char *path, unsigned flags)
{
	struct lws_client_connect_info i;
	char host[URL_HOST_PORT_SIZE];

	c->state = WSC_CONNECTING;
	c->closing = 0;
	c->too_large = 0;
	c->http_status = 0;
	c->msg_len = 0;
	c->msg_binary = 0;
	if (url_host_header(u, host, sizeof host)) {
		gone(c, "the host is too long");
		return;
	}
	/* lws copies these strings: they need not outlive the call. */
	memset(&i, 0, sizeof i);
	i.context = ctx;
	i.address = address ? address : u->host;
	i.port = u->port;
	i.ssl_connection = u->tls ? LCCSCF_USE_SSL : 0;
	i.path = path;
	i.host = host;
	i.origin = flags & WSC_ORIGIN ? host : NULL;
	i.local_protocol_name = protocols[0].name;
	i.retry_and_idle_policy = flags & WSC_KEEPALIVE ? &keepalive : NULL;
	i.userdata = c;
	i.pwsi = &c->wsi;
	if (!lws_client_connect_via_info(&i) && c->state == WSC_CONNECTING)
		gone(c, "cannot start the connection");
}

int
wsc_send(struct wsc *c, unsigned char *payload, size_t len)
{
	if (!c->wsi || c->state != WSC_OPEN)
		return -1;
	return lws_write(c->wsi, payload, len, LWS_WRITE_TEXT) < (int)len ? -1 : 0;
}

void
wsc_want_write(struct wsc *c)
{
	if (c->wsi && c->state == WSC_OPEN)
		lws_callback_on_writable(c->wsi);
}

void
wsc_set_timeout(struct wsc *c, int seconds)
{
	if (c->wsi && c->state == WSC_OPEN)
		lws_set_timeout(c->wsi,
				seconds > 0 ? PENDING_TIMEOUT_USER_REASON_BASE : NO_PENDING_TIMEOUT,
				seconds > 0 ? seconds : 0);
}

void
wsc_close(struct wsc *c)
{
	c->closing = 1;
	wsc_want_write(c);
}

void
wsc_release(struct wsc *c)
{
	free(c->msg);
	c->msg = NULL;
	c->msg_len = c->msg_cap = 0;
}
