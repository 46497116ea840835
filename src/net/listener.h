/*
 * The listener: one libwebsockets context on the server's libevent loop
 * (lws runs as a foreign loop and never services itself), serving HTTP and
 * WebSocket on one address, optionally with TLS.
 */
#ifndef SENTINEL_LISTENER_H
#define SENTINEL_LISTENER_H

#include "address.h"
#include "endpoints.h"

struct event_base;
typedef struct listener listener;

struct listener_options {
	const struct address *addr; /* the resolved address to bind */
	int port;
	const char *tls_cert, *tls_key; /* PEM files, or NULL for plain HTTP */
	int handshake_timeout;          /* seconds to finish a request or handshake */
	int idle_timeout;               /* seconds a WebSocket may stay silent */
	int verbose;                    /* let lws log notices too */
};

/*
 * Listen on base for the endpoints ep (which must outlive the listener).
 * The socket is bound and listening when this returns. Returns NULL with
 * the reason in errmsg when it cannot listen.
 */
listener *listener_create(struct event_base *base, const struct listener_options *o,
			  const struct endpoints *ep, char *errmsg);

/* The port listened on (the one the system chose when 0 was asked for). */
int listener_port(const listener *l);

/* Close every connection and stop listening (NULL is allowed). */
void listener_destroy(listener *l);

#endif
