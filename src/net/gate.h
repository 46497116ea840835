/*
 * Admission of requests and upgrades: the Origin rules, the bearer token
 * and its role (auth.h), and the connection limit. Every endpoint asks the
 * gate before it does anything. Loop thread only.
 *
 * A request with an Origin comes from a browser page, which may be any
 * site the user visits: it goes on only from a listed origin, a loopback
 * origin (auth.h), or the server's own pages. Own pages are recognised by
 * an Origin that names the host the request was sent to (its Host), but
 * only on a listener that is not loopback: on loopback, every own origin
 * is a loopback origin anyway, and trusting the Host there would let a
 * page of any site reach the server through DNS rebinding (its name made
 * to point at 127.0.0.1, so that Origin and Host agree).
 */
#ifndef SENTINEL_GATE_H
#define SENTINEL_GATE_H

#include "auth.h"

struct lws;
typedef struct gate gate;

/*
 * A gate over a's tokens and origins (a stays the caller's). own_by_host:
 * the listener is not loopback, so an Origin naming the request's Host is
 * the server's own (see above). NULL: no memory.
 */
gate *gate_create(const auth *a, int max_connections, int own_by_host);
void gate_destroy(gate *g);

/* Judge by a's tokens and origins from now on (a reload; a stays the caller's). */
void gate_set_auth(gate *g, const auth *a);

/* Count a connection opened or closed (lws' WSI_CREATE and WSI_DESTROY). */
void gate_conn_opened(gate *g);
void gate_conn_closed(gate *g);

/* Returns 1 when more connections are open than the limit allows, else 0. */
int gate_full(const gate *g);

/* The verdict on a request's Origin. */
enum gate_origin {
	GATE_ORIGIN_NONE,    /* no Origin: not a browser */
	GATE_ORIGIN_ALLOWED, /* a browser page that may use the server */
	GATE_ORIGIN_REFUSED, /* a page of another site */
};

/*
 * Judge the request's Origin; when it has one, copy it into origin (size
 * bytes; "" when it does not fit, which is refused).
 */
enum gate_origin gate_origin(const gate *g, struct lws *wsi, char *origin, size_t size);

/*
 * May this request act in role? Checks the Origin and, when tokens are
 * configured, the token. On refusal *why says why in a sentence.
 */
enum auth_verdict gate_authorize(const gate *g, struct lws *wsi, enum auth_role role,
				 const char **why);

#endif
