/*
 * The URLs sentinel-bench talks to: http://HOST[:PORT][/PATH] for posts and
 * ws://HOST[:PORT][/PATH][?QUERY] for WebSocket endpoints. The host must
 * resolve to a loopback address: the benchmark loads a server on this
 * machine only, as the README's figures are measured. No TLS.
 */
#ifndef SENTINEL_BENCH_URL_H
#define SENTINEL_BENCH_URL_H

#include <stddef.h>
#include <sys/socket.h>

#define URL_ERRMSG_SIZE 256
#define URL_PATH_MAX    1024

enum url_scheme { URL_HTTP, URL_WS };

struct url {
	enum url_scheme scheme;
	char host[256]; /* as written, IPv6 without brackets */
	int port;
	char host_header[272];        /* host[:port] as the Host header wants it */
	char path[URL_PATH_MAX];      /* path and query, at least "/" */
	struct sockaddr_storage addr; /* the resolved loopback address */
	socklen_t addrlen;
	char addr_text[64]; /* that address as text, for libwebsockets */
};

/*
 * Parse text, which must have the given scheme, and resolve its host.
 * Returns 0, or ERR_INVAL with the reason in errmsg (URL_ERRMSG_SIZE bytes)
 * and *out untouched.
 */
int url_parse(const char *text, enum url_scheme scheme, struct url *out, char *errmsg);

/*
 * Copy u into out with its path replaced by path (which may carry a query).
 * Returns 0, or ERR_TOOBIG with *out untouched.
 */
int url_with_path(const struct url *u, const char *path, struct url *out);

/*
 * Write u's path with "name=value" appended to its query into buf (size
 * bytes). Returns 0, or ERR_TOOBIG.
 */
int url_path_with_param(const struct url *u, const char *name, const char *value, char *buf,
			size_t size);

#endif
