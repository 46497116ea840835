/*
 * Streamed HTTP responses: the body is the output of a reader-pool job
 * (readpool.h), sent as it comes with HTTP/1.1 chunked transfer encoding,
 * one chunk per writable callback, so that a client that reads slowly
 * holds back its job rather than the server's memory.
 *
 * The response starts when the job has its first output or has finished:
 * a job that fails before any output is answered whole, as {"error": ...}
 * with the status for its code (through the connection's reply); one that
 * fails after output began has its connection closed without the final
 * chunk, which tells the client the body is incomplete. Loop thread only.
 */
#ifndef SENTINEL_REPLY_STREAM_H
#define SENTINEL_REPLY_STREAM_H

#include "readpool.h"

struct lws;
struct reply;
struct reply_stream;

/* What reply_stream_write() says the caller should do next. */
enum reply_stream_state {
	REPLY_STREAM_MORE = 0,  /* wait for the next writable callback */
	REPLY_STREAM_DONE = 1,  /* the last chunk is out: free, then complete the transaction */
	REPLY_STREAM_ERROR = 2, /* nothing was sent; an error answer is queued on the reply */
};

/*
 * Start job on pool as the answer to the request on wsi, with this content
 * type. *out is the stream, or NULL when the job was refused and the error
 * answer is already queued on r (the pool is busy or stopping). job's
 * ready and ready_arg are the stream's. Returns 0, or -1 to close the
 * connection.
 */
int reply_stream_start(struct lws *wsi, struct reply *r, readpool *pool, const char *content_type,
		       const struct readpool_job_options *job, struct reply_stream **out);

/*
 * The socket is writable: write the next chunk, if any. Returns a
 * reply_stream_state, or -1 to close the connection.
 */
int reply_stream_write(struct reply_stream *s, struct reply *r);

/* The request is over or the connection closed: release the job (NULL is allowed). */
void reply_stream_free(struct reply_stream *s);

/* The HTTP status for a job's error code. */
int reply_stream_status_for(int err);

#endif
