/*
 * A small blocking HTTP/1.1 client: one keep-alive TCP connection to one
 * server, one request at a time, bodies with a Content-Length. Enough to
 * post batches to sentinel-logd; no TLS, no chunked transfer encoding, no
 * redirects. A request that fails after it was sent may still have been
 * processed by the server: the caller is told, and nothing is retried.
 */
#ifndef SENTINEL_HTTP_CLIENT_H
#define SENTINEL_HTTP_CLIENT_H

#include <stddef.h>

typedef struct http_client http_client;

struct http_response {
	int status; /* e.g. 200 */
	char *body; /* malloc'd, NUL-terminated */
	size_t body_len;
};

/*
 * Make a client for url ("http://HOST[:PORT][/]", port 80 by default). It
 * connects on the first request. Returns NULL with a message in errmsg
 * (errmsg_size bytes) when the URL is not one this client can use.
 */
http_client *http_client_new(const char *url, char *errmsg, size_t errmsg_size);

/* Close the connection and free the client (NULL is allowed). */
void http_client_free(http_client *c);

/* What went wrong in the last failed request. */
const char *http_client_errmsg(http_client *c);

/*
 * True when the last failed request may have reached the server (it was
 * sent, at least in part, but no complete answer came back).
 */
int http_client_maybe_sent(http_client *c);

/*
 * Send "METHOD path" with the body and extra_headers (each line ending in
 * "\r\n", or NULL), and read the answer into *resp. Returns 0, or a
 * negative ERR_* code with the reason in http_client_errmsg() and *resp
 * untouched.
 */
int http_client_request(http_client *c, const char *method, const char *path,
			const char *extra_headers, const char *body, size_t len,
			struct http_response *resp);

/* Free what http_client_request() put in resp. */
void http_response_free(struct http_response *resp);

#endif
