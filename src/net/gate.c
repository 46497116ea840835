/* Admission control (see gate.h). */
#include "gate.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "request.h"

struct gate {
	const auth *auth;
	int max_connections;
	int connections; /* open client connections */
	int own_by_host; /* an Origin naming the Host is the server's own */
};

gate *
gate_create(const auth *a, int max_connections, int own_by_host)
{
	gate *g = calloc(1, sizeof *g);

	if (!g)
		return NULL;
	g->auth = a;
	g->max_connections = max_connections;
	g->own_by_host = own_by_host;
	return g;
}

void
gate_destroy(gate *g)
{
	free(g);
}

void
gate_set_auth(gate *g, const auth *a)
{
	g->auth = a;
}

void
gate_conn_opened(gate *g)
{
	g->connections++;
}

void
gate_conn_closed(gate *g)
{
	g->connections--;
}

int
gate_full(const gate *g)
{
	return g->connections > g->max_connections;
}

/* Does origin name the host the request was sent to (its Host header)? */
static int
names_host(struct lws *wsi, const char *origin)
{
	const char *authority = strstr(origin, "://");
	char host[256];

	return authority && lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) > 0 &&
	       !strcasecmp(authority + 3, host);
}

enum gate_origin
gate_origin(const gate *g, struct lws *wsi, char *origin, size_t size)
{
	origin[0] = '\0';
	if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) <= 0)
		return GATE_ORIGIN_NONE; /* not a browser */
	/* One too long to copy is no origin we could allow. */
	if (lws_hdr_copy(wsi, origin, (int)size, WSI_TOKEN_ORIGIN) <= 0) {
		origin[0] = '\0';
		return GATE_ORIGIN_REFUSED;
	}
	if (auth_origin_allowed(g->auth, origin) || (g->own_by_host && names_host(wsi, origin)))
		return GATE_ORIGIN_ALLOWED;
	return GATE_ORIGIN_REFUSED;
}

enum auth_verdict
gate_authorize(const gate *g, struct lws *wsi, enum auth_role role, const char **why)
{
	char token[AUTH_TOKEN_MAX + 16], origin[256];
	enum auth_verdict v;

	if (gate_origin(g, wsi, origin, sizeof origin) == GATE_ORIGIN_REFUSED) {
		*why = "requests from this Origin are not allowed (see --allow-origin)";
		return AUTH_FORBIDDEN;
	}
	if (auth_token_count(g->auth) == 0)
		return AUTH_ALLOWED;
	v = auth_check(g->auth, request_token(wsi, token, sizeof token) ? NULL : token, role);
	memset(token, 0, sizeof token);
	if (v == AUTH_UNAUTHENTICATED)
		*why = "a valid token is required: send 'Authorization: Bearer TOKEN' or "
		       "?token=TOKEN";
	else if (v == AUTH_FORBIDDEN)
		*why = role == AUTH_PUBLISH     ? "this token may not publish events"
		       : role == AUTH_SUBSCRIBE ? "this token may not read events"
						: "this token is not an admin token";
	return v;
}
