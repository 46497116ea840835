/*
 * The WebSocket clients of wsc.h.
 *
 * Messages that arrive whole in one receive callback (every event and
 * answer the server sends, which are far below the receive buffer) are
 * handed over in place; only fragmented ones are gathered, up to MSG_MAX.
 * WSI_DESTROY is the one callback lws always gives a client connection, so
 * it ends the connection if CLIENT_CLOSED or CONNECTION_ERROR did not.
 */
#include "wsc.h"

#include <event2/event.h>
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "lwslog.h"

#if !defined(LWS_WITH_LIBEVENT)
#error "libwebsockets was built without LWS_WITH_LIBEVENT; sentinel-bench needs it"
#endif

/* Receive buffer per connection: a frame part larger than this is split. */
#define RX_BUFFER_SIZE 16384
/* The largest message taken; answers and events are far smaller. */
#define MSG_MAX (16u * 1024 * 1024)

/* End the connection once: tell the owner. */
static void
gone(struct wsc *c, const char *why)
{
	if (c->state == WSC_CLOSED)
		return;
	c->state = WSC_CLOSED;
	c->wsi = NULL;
	c->msg_len = 0;
	c->ops->closed(c, why);
}

/* Gather one fragment; deliver the message when it is whole. */
static int
receive(struct wsc *c, struct lws *wsi, const char *in, size_t len)
{
	int whole = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
	int rc = 0;

	if (!c->msg_len && whole)
		return c->ops->message(c, in, len);
	if (!c->msg_dropped && c->msg_len + len + 1 > c->msg_cap) {
		size_t cap = c->msg_cap ? c->msg_cap : 4096;
		char *bigger;
		while (cap < c->msg_len + len + 1)
			cap *= 2;
		bigger = cap <= MSG_MAX ? realloc(c->msg, cap) : NULL;
		if (!bigger) {
			log_warn("dropping a message of more than %zu bytes", c->msg_len + len);
			c->msg_dropped = 1;
		} else {
			c->msg = bigger;
			c->msg_cap = cap;
		}
	}
	if (!c->msg_dropped) {
		memcpy(c->msg + c->msg_len, in, len);
		c->msg_len += len;
	}
	if (!whole)
		return 0;
	if (!c->msg_dropped) {
		c->msg[c->msg_len] = '\0';
		rc = c->ops->message(c, c->msg, c->msg_len);
	}
	c->msg_len = 0;
	c->msg_dropped = 0;
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
			lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
			return -1;
		}
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (!c || c->state != WSC_OPEN)
			return 0;
		if (c->closing || c->ops->writeable(c)) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
			return -1;
		}
		return 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (c)
			gone(c, in && len ? (const char *)in : "connection failed");
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (c)
			gone(c, "closed");
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
	{"sentinel-bench", callback, 0, RX_BUFFER_SIZE, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

struct lws_context *
wsc_context_new(struct event_base *base, int timeout_s)
{
	struct lws_context_creation_info info;
	struct lws_context *ctx;
	void *loops[1] = {base};

	lws_set_log_level(LLL_ERR | LLL_WARN, lwslog_line);
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.foreign_loops = loops;
	info.options = LWS_SERVER_OPTION_LIBEVENT;
	info.timeout_secs = (unsigned)(timeout_s > 0 ? timeout_s : 10);
	info.pt_serv_buf_size = 65536;
	ctx = lws_create_context(&info);
	if (!ctx)
		log_error("cannot create a libwebsockets client context");
	return ctx;
}

void
wsc_connect(struct wsc *c, struct lws_context *ctx, const struct url *u, const char *path)
{
	struct lws_client_connect_info i;

	memset(&i, 0, sizeof i);
	i.context = ctx;
	i.address = u->addr_text;
	i.port = u->port;
	i.path = path;
	i.host = u->host_header;
	i.origin = u->host_header;
	i.local_protocol_name = protocols[0].name;
	i.userdata = c;
	i.pwsi = &c->wsi;
	c->state = WSC_CONNECTING;
	c->closing = 0;
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
