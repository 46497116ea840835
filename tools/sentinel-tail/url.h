/*
 * The subscribe URL: ws://HOST[:PORT][/PATH][?QUERY] (or wss://), split
 * into what a libwebsockets client connection needs, and the request path
 * built from it with the parameters sentinel-tail adds.
 *
 * The URL's own query string (a token=, say) is kept and sent on every
 * connection; the parameters sentinel-tail manages itself (after_id, epoch,
 * control, since, type) may not appear in it.
 */
#ifndef SENTINEL_TAIL_URL_H
#define SENTINEL_TAIL_URL_H

#include <stddef.h>

#define URL_ERRMSG_SIZE 200
#define URL_HOST_MAX    255
#define URL_PATH_MAX    2048

struct url {
	int tls;                            /* wss:// */
	char host[URL_HOST_MAX + 1];        /* name or address, IPv6 without brackets */
	int port;                           /* given, or 80 (ws) / 443 (wss) */
	char host_header[URL_HOST_MAX + 9]; /* the Host header: [v6] and :port kept */
	char path[URL_PATH_MAX];            /* "/ws/logs" when the URL has no path */
	char query[URL_PATH_MAX];           /* the URL's query string, without '?' */
};

/*
 * Parse text into *out. A fragment (#...) is dropped, as every client does.
 * Returns 0, or ERR_INVAL with the reason in errmsg (URL_ERRMSG_SIZE bytes)
 * and *out untouched.
 */
int url_parse(const char *text, struct url *out, char *errmsg);

/*
 * Append "name=value" to the request path in buf (size bytes, NUL-terminated),
 * after '?' or '&' as needed, percent-encoding value. Returns 0, or ERR_TOOBIG
 * with buf unchanged.
 */
int url_append_param(char *buf, size_t size, const char *name, const char *value);

#endif
