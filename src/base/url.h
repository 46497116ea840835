/*
 * URLs as the tools take them on their command lines, and HOST:PORT as the
 * server's --listen takes it. Text only: nothing here resolves a name or
 * opens a socket.
 *
 *   scheme://host[:port][/path][?query][#fragment]
 *
 * The scheme is http, https, ws or wss, in any case. The host is a name
 * (letters, digits, '.', '-', '_'), an IPv4 address, or an IPv6 address in
 * brackets, with an optional zone ("[fe80::1%25eth0]" as RFC 6874 writes
 * it, or "[fe80::1%eth0]"). A port left out, or empty, is the scheme's
 * default. The path and the query are kept as written and must be
 * printable ASCII without spaces (anything else percent-encoded already).
 * The fragment is never sent, so it is dropped. User information
 * (user@host) is refused: nothing here would send it.
 */
#ifndef SENTINEL_URL_H
#define SENTINEL_URL_H

#include <stddef.h>

/* The longest host, IPv6 zone included (without brackets). */
#define URL_HOST_MAX 255
/* The size of a request path and query together, NUL included. */
#define URL_PATH_MAX 2048
/* The size of a buffer for url_host_header() and url_host_port(). */
#define URL_HOST_PORT_SIZE (URL_HOST_MAX + 9)

/* The schemes, as bits: url_parse() takes the set it accepts. */
enum url_scheme {
	URL_HTTP = 1,
	URL_HTTPS = 2,
	URL_WS = 4,
	URL_WSS = 8,
};

struct url {
	enum url_scheme scheme;
	int tls;                     /* https or wss */
	char host[URL_HOST_MAX + 1]; /* IPv6 without brackets, a zone as "%zone" */
	int port;                    /* as written, or the scheme's default */
	char path[URL_PATH_MAX];     /* as written, or the caller's default */
	char query[URL_PATH_MAX];    /* without '?'; "" when there is none */
};

/*
 * Parse text, whose scheme must be one of schemes (URL_HTTP | ...), into
 * *out; a URL without a path gets default_path. The path and the query
 * together fit in URL_PATH_MAX. Returns 0, or ERR_INVAL with the reason in
 * errmsg and *out untouched.
 */
int url_parse(const char *text, unsigned schemes, const char *default_path, struct url *out,
	      char *errmsg);

/*
 * Write the Host header of u into buf (size bytes): an IPv6 address in
 * brackets without its zone, the port unless it is the scheme's default.
 * Returns 0, or ERR_TOOBIG.
 */
int url_host_header(const struct url *u, char *buf, size_t size);

/*
 * Write u's host and port as people write them, "host:port" or
 * "[v6%zone]:port", into buf (size bytes), for messages. Returns 0, or
 * ERR_TOOBIG.
 */
int url_host_port(const struct url *u, char *buf, size_t size);

/*
 * Write u's request target, the path and "?query" if there is one, into
 * buf (size bytes). Returns 0, or ERR_TOOBIG.
 */
int url_request_path(const struct url *u, char *buf, size_t size);

/*
 * Append "name=value" to the request path in buf (size bytes,
 * NUL-terminated), after '?' or '&' as needed, percent-encoding value.
 * Returns 0, or ERR_TOOBIG with buf unchanged.
 */
int url_append_param(char *buf, size_t size, const char *name, const char *value);

/*
 * Split "host:port", "[v6]:port" (with an optional "%zone") or ":port"
 * (host "") into host (host_size bytes) and *port, from 0 to 65535. The
 * host is checked as in a URL. Returns 0, or ERR_INVAL with the reason in
 * errmsg and host and *port untouched.
 */
int url_split_host_port(const char *text, char *host, size_t host_size, int *port, char *errmsg);

#endif
