/*
 * Admission of requests and upgrades: the Origin rules, the bearer token
 * and its role (auth.h), and the connection limit. Every endpoint asks the
 * gate before it does anything. Loop thread only.
 */
#ifndef SENTINEL_GATE_H
#define SENTINEL_GATE_H

#include "auth.h"

struct lws;
typedef struct gate gate;

/* A gate over a's tokens and origins (a stays the caller's). NULL: no memory. */
gate *gate_create(const auth *a, int max_connections);
void gate_destroy(gate *g);

/* Count a connection opened or closed (lws' WSI_CREATE and WSI_DESTROY). */
void gate_conn_opened(gate *g);
void gate_conn_closed(gate *g);

/* Returns 1 when more connections are open than the limit allows, else 0. */
int gate_full(const gate *g);

/*
 * May this request act in role? Checks the Origin and, when tokens are
 * configured, the token. On refusal *why says why in a sentence.
 */
enum auth_verdict gate_authorize(const gate *g, struct lws *wsi, enum auth_role role,
				 const char **why);

#endif
