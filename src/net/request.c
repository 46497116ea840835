/* Query parameters and tokens of a request (see request.h). */
#include "request.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "err.h"
#include "timestamp.h"

int
request_query_each(struct lws *wsi, int (*fn)(const char *name, const char *value, void *arg),
		   void *arg)
{
	char frag[4096]; /* a fragment never exceeds the header space */

	for (int i = 0;; i++) {
		int n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
		if (n < 0)
			return 0;
		char *eq = strchr(frag, '=');
		const char *value = "";
		if (eq) {
			*eq = '\0';
			value = eq + 1;
		}
		int rc = fn(frag, value, arg);
		if (rc)
			return rc;
	}
}

struct parse_state {
	struct query *q;
	request_param_fn set;
	int64_t now_us;
	char *errmsg;
};

static int
parse_param(const char *name, const char *value, void *arg)
{
	struct parse_state *ps = arg;
	return ps->set(ps->q, name, value, ps->now_us, ps->errmsg);
}

int
request_parse_query(struct lws *wsi, struct query *q, request_param_fn set, char *errmsg)
{
	struct parse_state ps = {q, set, timestamp_now(), errmsg};

	query_init(q);
	return request_query_each(wsi, parse_param, &ps) ? ERR_INVAL : 0;
}

int
request_token(struct lws *wsi, char *out, size_t size)
{
	char header[AUTH_TOKEN_MAX + 16];

	if (lws_hdr_copy(wsi, header, sizeof header, WSI_TOKEN_HTTP_AUTHORIZATION) > 0 &&
	    !strncasecmp(header, "Bearer ", 7)) {
		snprintf(out, size, "%s", header + 7);
		memset(header, 0, sizeof header);
		return 0;
	}
	/* The value comes back inside out, after "token=". */
	const char *value = lws_get_urlarg_by_name(wsi, "token=", out, (int)size);
	if (!value)
		return -1;
	memmove(out, value, strlen(value) + 1);
	return 0;
}
