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

int
reply_send(struct lws *wsi, struct reply *r, int status, const char *content_type, const char *body,
	   size_t len)
{
	size_t head_room = 512;
	unsigned char *buf, *start, *p, *end;

	reply_clear(r);
	buf = malloc(LWS_PRE + head_room + len);
	if (!buf)
		return ERR_NOMEM;
	start = p = buf + LWS_PRE;
	end = start + head_room;
	if (lws_add_http_common_headers(wsi, (unsigned int)status, content_type, (lws_filepos_t)len,
					&p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
					(const unsigned char *)"no-store", 8, &p, end) ||
	    (r->close_after &&
	     lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close",
					  5, &p, end)) ||
	    lws_finalize_http_header(wsi, &p, end)) {
		free(buf);
		return ERR_NOMEM;
	}
	memcpy(p, body, len);
	r->buf = buf;
	r->len = (size_t)(p - start) + len;
	lws_callback_on_writable(wsi);
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
