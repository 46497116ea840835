/* Whole HTTP responses, one lws_write each (see reply.h). */
#include "reply.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ingest.h"

int
reply_status_for(int err)
{
	switch (err) {
	case 0:
		return HTTP_STATUS_OK;
	case ERR_JSON:
	case ERR_EVENT:
	case ERR_INVAL:
		return HTTP_STATUS_BAD_REQUEST;
	case ERR_TOOBIG:
		return HTTP_STATUS_REQ_ENTITY_TOO_LARGE;
	default:
		return HTTP_STATUS_SERVICE_UNAVAILABLE;
	}
}

void
reply_begin(struct reply *r)
{
	r->close_after = 0;
	r->allow = NULL;
	r->origin[0] = '\0';
	r->preflight = 0;
	r->head_only = 0;
	r->replayed = 0;
}

/* Add "name: value" to the headers at *p. Returns 0, or 1 when it does not fit. */
static int
header(struct lws *wsi, const char *name, const char *value, unsigned char **p, unsigned char *end)
{
	return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
					   (const unsigned char *)value, (int)strlen(value), p,
					   end);
}

/* The headers that depend on the request and the status: Allow,
 * WWW-Authenticate, Idempotent-Replayed, CORS. */
static int
request_headers(struct lws *wsi, const struct reply *r, int status, unsigned char **p,
		unsigned char *end)
{
	if (r->allow && header(wsi, "allow:", r->allow, p, end))
		return 1;
	if (status == HTTP_STATUS_UNAUTHORIZED &&
	    header(wsi, "www-authenticate:", "Bearer realm=\"sentinel-logd\"", p, end))
		return 1;
	if (r->replayed && header(wsi, "idempotent-replayed:", "true", p, end))
		return 1;
	if (!r->origin[0])
		return 0;
	if (header(wsi, "access-control-allow-origin:", r->origin, p, end) ||
	    header(wsi, "vary:", "Origin", p, end) ||
	    (r->replayed &&
	     header(wsi, "access-control-expose-headers:", "Idempotent-Replayed", p, end)))
		return 1;
	if (r->preflight &&
	    (header(wsi, "access-control-allow-methods:", r->allow ? r->allow : "GET", p, end) ||
	     header(wsi, "access-control-allow-headers:",
		    "Authorization, Content-Type, Idempotency-Key", p, end) ||
	     header(wsi, "access-control-max-age:", "600", p, end)))
		return 1;
	return 0;
}

int
reply_send(struct lws *wsi, struct reply *r, int status, const char *content_type, const char *body,
	   size_t len)
{
	size_t head_room = 1024;
	unsigned char *buf, *start, *p, *end;

	reply_clear(r);
	buf = malloc(LWS_PRE + head_room + len);
	if (!buf)
		return ERR_NOMEM;
	start = p = buf + LWS_PRE;
	end = start + head_room;
	if (lws_add_http_common_headers(wsi, (unsigned int)status, content_type, (lws_filepos_t)len,
					&p, end) ||
	    header(wsi, "cache-control:", "no-store", &p, end) ||
	    request_headers(wsi, r, status, &p, end) ||
	    (r->close_after &&
	     lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close",
					  5, &p, end)) ||
	    lws_finalize_http_header(wsi, &p, end)) {
		free(buf);
		return ERR_NOMEM;
	}
	if (r->head_only)
		len = 0; /* counted in Content-Length, not sent */
	memcpy(p, body, len);
	r->buf = buf;
	r->len = (size_t)(p - start) + len;
	r->status = status;
	lws_callback_on_writable(wsi);
	return 0;
}

int
reply_stream_head(struct lws *wsi, const struct reply *r, const char *content_type, int chunked,
		  unsigned char *buf, size_t size, size_t *len_out)
{
	unsigned char *p = buf, *end = buf + size;

	/* No length: lws adds "connection: close". */
	if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, content_type,
					LWS_ILLEGAL_HTTP_CONTENT_LEN, &p, end) ||
	    header(wsi, "cache-control:", "no-store", &p, end) ||
	    header(wsi, "x-accel-buffering:", "no", &p, end) ||
	    request_headers(wsi, r, HTTP_STATUS_OK, &p, end) ||
	    (chunked &&
	     lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING,
					  (const unsigned char *)"chunked", 7, &p, end)) ||
	    lws_finalize_http_header(wsi, &p, end))
		return ERR_TOOBIG;
	*len_out = (size_t)(p - buf);
	return 0;
}

int
reply_error(struct lws *wsi, struct reply *r, int status, const char *msg, long index)
{
	char *json = ingest_error_json(msg, index);
	int rc;

	if (!json) /* msg was not valid UTF-8: say so without it */
		json = ingest_error_json("invalid request", index);
	if (!json)
		return ERR_NOMEM;
	rc = reply_send(wsi, r, status, "application/json", json, strlen(json));
	free(json);
	return rc;
}

int
reply_text(struct lws *wsi, struct reply *r, int status, const char *msg)
{
	size_t len = strlen(msg);
	char *text = malloc(len + 2);
	int rc;

	if (!text)
		return ERR_NOMEM;
	memcpy(text, msg, len);
	text[len] = '\n';
	rc = reply_send(wsi, r, status, "text/plain; charset=utf-8", text, len + 1);
	free(text);
	return rc;
}

int
reply_write(struct lws *wsi, struct reply *r)
{
	if (!r->buf)
		return 0; /* spurious */
	int n = lws_write(wsi, r->buf + LWS_PRE, r->len, LWS_WRITE_HTTP_FINAL);
	reply_clear(r);
	if (n < 0 || r->close_after)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

void
reply_clear(struct reply *r)
{
	free(r->buf);
	r->buf = NULL;
	r->len = 0;
}
