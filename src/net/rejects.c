/* The record of refused requests (see rejects.h). */
#include "rejects.h"

#include <libwebsockets.h>
#include <stdlib.h>

#include "log.h"
#include "timestamp.h"

#define WINDOW_US ((int64_t)REJECTS_LOG_WINDOW_S * 1000000)

struct rejects {
	uint64_t count[REJECTS_REASONS];
	int64_t window_start_us; /* the log's current window */
	unsigned logged;         /* lines in it */
	uint64_t left_out;       /* refusals not logged in it */
};

static const char *const names[REJECTS_REASONS] = {
	[REJECTS_BAD_REQUEST] = "bad_request",
	[REJECTS_UNAUTHORIZED] = "unauthorized",
	[REJECTS_FORBIDDEN] = "forbidden",
	[REJECTS_NOT_FOUND] = "not_found",
	[REJECTS_METHOD_NOT_ALLOWED] = "method_not_allowed",
	[REJECTS_REQUEST_TIMEOUT] = "request_timeout",
	[REJECTS_LENGTH_REQUIRED] = "length_required",
	[REJECTS_PAYLOAD_TOO_LARGE] = "payload_too_large",
	[REJECTS_UNSUPPORTED_MEDIA] = "unsupported_media_type",
	[REJECTS_OTHER] = "other",
	[REJECTS_TOO_MANY_CONNECTIONS] = "too_many_connections",
};

rejects *
rejects_create(void)
{
	return calloc(1, sizeof(rejects));
}

void
rejects_destroy(rejects *r)
{
	free(r);
}

const char *
rejects_reason_name(enum rejects_reason reason)
{
	return reason < REJECTS_REASONS ? names[reason] : "other";
}

uint64_t
rejects_count(const rejects *r, enum rejects_reason reason)
{
	return reason < REJECTS_REASONS ? r->count[reason] : 0;
}

static enum rejects_reason
reason_of(int status)
{
	switch (status) {
	case 400:
		return REJECTS_BAD_REQUEST;
	case 401:
		return REJECTS_UNAUTHORIZED;
	case 403:
		return REJECTS_FORBIDDEN;
	case 404:
		return REJECTS_NOT_FOUND;
	case 405:
		return REJECTS_METHOD_NOT_ALLOWED;
	case 408:
		return REJECTS_REQUEST_TIMEOUT;
	case 411:
		return REJECTS_LENGTH_REQUIRED;
	case 413:
		return REJECTS_PAYLOAD_TOO_LARGE;
	case 415:
		return REJECTS_UNSUPPORTED_MEDIA;
	case 503:
		return REJECTS_TOO_MANY_CONNECTIONS;
	default:
		return REJECTS_OTHER;
	}
}

/* Copy at most size - 1 bytes of s, each non-printable one as '?'. */
static void
printable(char *out, size_t size, const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len && s[i] && n + 1 < size; i++)
		out[n++] = s[i] > ' ' && s[i] < 0x7f ? s[i] : '?';
	out[n] = '\0';
}

/* "GET /api/events": the request line without its query. */
static void
describe(struct lws *wsi, char *out, size_t size)
{
	static const char *const methods[] = {
		[LWSHUMETH_GET] = "GET",         [LWSHUMETH_POST] = "POST",
		[LWSHUMETH_OPTIONS] = "OPTIONS", [LWSHUMETH_PUT] = "PUT",
		[LWSHUMETH_PATCH] = "PATCH",     [LWSHUMETH_DELETE] = "DELETE",
		[LWSHUMETH_CONNECT] = "CONNECT", [LWSHUMETH_HEAD] = "HEAD",
	};
	char path[96];
	char *uri = NULL;
	int len = 0, m = lws_http_get_uri_and_method(wsi, &uri, &len);

	printable(path, sizeof path, uri ? uri : "", uri && len > 0 ? (size_t)len : 0);
	snprintf(out, size, "%s %s",
		 m >= 0 && m < (int)(sizeof methods / sizeof methods[0]) && methods[m] ? methods[m]
										       : "?",
		 path[0] ? path : "?");
}

void
rejects_note(rejects *r, struct lws *wsi, int status, const char *detail)
{
	char peer[64] = "", request[128];
	int64_t now = timestamp_now();

	r->count[reason_of(status)]++;
	if (now - r->window_start_us >= WINDOW_US) {
		if (r->left_out)
			log_info("%llu more refused requests were not logged in the last %d s",
				 (unsigned long long)r->left_out, REJECTS_LOG_WINDOW_S);
		r->window_start_us = now;
		r->logged = 0;
		r->left_out = 0;
	}
	if (r->logged >= REJECTS_LOG_BURST) {
		r->left_out++;
		return;
	}
	r->logged++;
	lws_get_peer_simple(wsi, peer, sizeof peer);
	describe(wsi, request, sizeof request);
	log_info("refused %s from %s: %d %s%s%s", request, peer[0] ? peer : "?", status,
		 rejects_reason_name(reason_of(status)), detail ? ": " : "", detail ? detail : "");
}
