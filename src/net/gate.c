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
};

gate *
gate_create(const auth *a, int max_connections)
{
	gate *g = calloc(1, sizeof *g);

	if (!g)
		return NULL;
	g->auth = a;
	g->max_connections = max_connections;
	return g;
}

void
gate_destroy(gate *g)
{
	free(g);
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

/* Is the request's Origin (if any) allowed: listed, or the server itself? */
static int
origin_ok(struct lws *wsi, const auth *a)
{
	char origin[256], host[256];
	const char *authority;

	if (lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) <= 0)
		return 1; /* not a browser */
	if (auth_origin_allowed(a, origin))
		return 1;
	/* Same origin: the dashboard served by this server. */
	authority = strstr(origin, "://");
	return authority && lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) > 0 &&
	       !strcasecmp(authority + 3, host);
}

enum auth_verdict
gate_authorize(const gate *g, struct lws *wsi, enum auth_role role, const char **why)
{
	char token[AUTH_TOKEN_MAX + 16];
	enum auth_verdict v;

	if (!origin_ok(wsi, g->auth)) {
		*why = "requests from this Origin are not allowed";
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
