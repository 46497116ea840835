/*
 * Chunked responses from reader-pool jobs (reply_stream.h). The stream
 * holds what it took from the job and has not written yet; it takes more
 * only when that is all out, so the job's buffer and this one bound the
 * memory a response uses. A chunk is framed here ("SIZE\r\n" data "\r\n")
 * and written with one lws_write.
 */
#include "reply_stream.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "reply.h"

/* Bytes of body in one chunk, one write. */
#define CHUNK_MAX (16 * 1024)
/* Room for the response head. */
#define HEAD_MAX 1024
/* A client that takes no bytes for this long is dropped. */
#define STALL_SECONDS 30

struct reply_stream {
	struct lws *wsi;
	readpool_job *job;
	const char *content_type;
	struct buf pending; /* taken from the job, not yet written */
	size_t sent;        /* bytes of pending written */
	int done, status;   /* the job finished, with this result */
	char errmsg[ERRMSG_SIZE];
	int head_sent;
	unsigned char *frame; /* LWS_PRE + head + one chunk */
};

int
reply_stream_status_for(int err)
{
	switch (err) {
	case 0:
		return HTTP_STATUS_OK;
	case ERR_INVAL:
	case ERR_TIMEOUT:
	case ERR_TOOBIG:
		return HTTP_STATUS_BAD_REQUEST;
	default:
		return HTTP_STATUS_SERVICE_UNAVAILABLE;
	}
}

/* Take what the job has, when what we hold is all written. */
static void
refill(struct reply_stream *s)
{
	if (s->done || s->sent < s->pending.len)
		return;
	s->pending.len = s->sent = 0;
	if (readpool_take(s->job, &s->pending, &s->done, &s->status, s->errmsg))
		s->pending.len = 0; /* out of memory: the output stays with the job for now */
}

/* The job has news: ask for a writable callback when there is something to do. */
static void
on_ready(readpool_job *job, void *arg)
{
	struct reply_stream *s = arg;
	(void)job;

	refill(s);
	if (s->done && s->status && s->head_sent && s->sent == s->pending.len) {
		/* Failed after the body began: close without the final chunk. */
		lws_set_timeout(s->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
		return;
	}
	if (s->done || s->sent < s->pending.len) {
		lws_set_timeout(s->wsi, PENDING_TIMEOUT_HTTP_CONTENT, STALL_SECONDS);
		lws_callback_on_writable(s->wsi);
	}
}

int
reply_stream_start(struct lws *wsi, struct reply *r, readpool *pool, const char *content_type,
		   const struct readpool_job_options *job, struct reply_stream **out)
{
	struct readpool_job_options o = *job;
	struct reply_stream *s = calloc(1, sizeof *s);
	int err = ERR_NOMEM;

	*out = NULL;
	if (!s || !(s->frame = malloc(LWS_PRE + HEAD_MAX + CHUNK_MAX + 32))) {
		free(s);
		if (job->free_arg)
			job->free_arg(job->arg);
		goto refuse;
	}
	s->wsi = wsi;
	s->content_type = content_type;
	o.ready = on_ready;
	o.ready_arg = s;
	if (!(s->job = readpool_submit(pool, &o, &err))) {
		free(s->frame);
		free(s);
		goto refuse;
	}
	/* The job may take longer than a request may: no timeout while it
	 * runs (a client that goes away cancels it). */
	lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
	*out = s;
	return 0;
refuse:
	return reply_error(wsi, r, HTTP_STATUS_SERVICE_UNAVAILABLE,
			   err == ERR_BUSY     ? "too many queries are waiting; try again later"
			   : err == ERR_CLOSED ? "the server is shutting down"
					       : "out of memory",
			   -1)
		       ? -1
		       : 0;
}

/* Append the response head to the frame at *p. */
static int
add_head(struct reply_stream *s, unsigned char **p, unsigned char *end)
{
	return lws_add_http_header_status(s->wsi, HTTP_STATUS_OK, p, end) ||
	       lws_add_http_header_by_token(s->wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
					    (const unsigned char *)s->content_type,
					    (int)strlen(s->content_type), p, end) ||
	       lws_add_http_header_by_token(s->wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING,
					    (const unsigned char *)"chunked", 7, p, end) ||
	       lws_add_http_header_by_name(s->wsi, (const unsigned char *)"cache-control:",
					   (const unsigned char *)"no-store", 8, p, end) ||
	       lws_finalize_http_header(s->wsi, p, end);
}

int
reply_stream_write(struct reply_stream *s, struct reply *r)
{
	unsigned char *start = s->frame + LWS_PRE, *p = start;
	size_t n;

	refill(s);
	if (s->sent == s->pending.len && !s->done)
		return REPLY_STREAM_MORE; /* the job's next output will call us */
	if (s->sent == s->pending.len && s->status) {
		if (s->head_sent)
			return -1;
		/* Nothing went out: answer with the error instead. */
		return reply_error(s->wsi, r, reply_stream_status_for(s->status), s->errmsg, -1)
			       ? -1
			       : REPLY_STREAM_ERROR;
	}
	if (!s->head_sent) {
		if (add_head(s, &p, start + HEAD_MAX))
			return -1;
		s->head_sent = 1;
	}
	n = s->pending.len - s->sent;
	if (n > CHUNK_MAX)
		n = CHUNK_MAX;
	if (n) {
		p += sprintf((char *)p, "%zx\r\n", n);
		memcpy(p, s->pending.data + s->sent, n);
		p += n;
		memcpy(p, "\r\n", 2);
		p += 2;
		s->sent += n;
	}
	int last = s->done && !s->status && s->sent == s->pending.len;
	if (last) {
		memcpy(p, "0\r\n\r\n", 5);
		p += 5;
	}
	if (lws_write(s->wsi, start, (size_t)(p - start),
		      last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < 0)
		return -1;
	if (last)
		return REPLY_STREAM_DONE;
	/* More is held, or the job is over (the end, or a failure to report
	 * by closing): come back when writable. Otherwise the job's next
	 * output calls us. */
	refill(s);
	if (s->sent < s->pending.len || s->done) {
		lws_set_timeout(s->wsi, PENDING_TIMEOUT_HTTP_CONTENT, STALL_SECONDS);
		lws_callback_on_writable(s->wsi);
	} else {
		lws_set_timeout(s->wsi, NO_PENDING_TIMEOUT, 0);
	}
	return REPLY_STREAM_MORE;
}

void
reply_stream_free(struct reply_stream *s)
{
	if (!s)
		return;
	readpool_release(s->job);
	buf_free(&s->pending);
	free(s->frame);
	free(s);
}
