/*
 * URL parsing for sentinel-bench (url.h). Deliberately small: scheme, host
 * (a name, an IPv4 address or a bracketed IPv6 address), port, and the rest
 * kept verbatim as the request path. Names are resolved once, here, so the
 * load loops never call the resolver.
 */
#include "url.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"

static int refuse(char *errmsg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
refuse(char *errmsg, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errmsg, URL_ERRMSG_SIZE, fmt, ap);
	va_end(ap);
	return ERR_INVAL;
}

/* True when the address is 127.0.0.0/8, ::1 or ::ffff:127.x.y.z. */
static int
is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return 1;
		return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
	}
	return 0;
}

/* Resolve u->host to its first loopback address. */
static int
resolve(struct url *u, char *errmsg)
{
	struct addrinfo hints, *list = NULL, *ai;
	char port[8];
	int rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof port, "%d", u->port);
	rc = getaddrinfo(u->host, port, &hints, &list);
	if (rc)
		return refuse(errmsg, "cannot resolve '%s': %s", u->host, gai_strerror(rc));
	for (ai = list; ai; ai = ai->ai_next)
		if (is_loopback(ai->ai_addr) && ai->ai_addrlen <= sizeof u->addr)
			break;
	if (!ai) {
		freeaddrinfo(list);
		return refuse(errmsg,
			      "'%s' is not a loopback address: sentinel-bench only "
			      "loads a server on this machine",
			      u->host);
	}
	memcpy(&u->addr, ai->ai_addr, ai->ai_addrlen);
	u->addrlen = ai->ai_addrlen;
	freeaddrinfo(list);
	if (!inet_ntop(u->addr.ss_family,
		       u->addr.ss_family == AF_INET
			       ? (const void *)&((struct sockaddr_in *)&u->addr)->sin_addr
			       : (const void *)&((struct sockaddr_in6 *)&u->addr)->sin6_addr,
		       u->addr_text, sizeof u->addr_text))
		return refuse(errmsg, "cannot print the address of '%s'", u->host);
	return 0;
}

int
url_parse(const char *text, enum url_scheme scheme, struct url *out, char *errmsg)
{
	const char *want = scheme == URL_HTTP ? "http://" : "ws://";
	const char *p = text, *host, *host_end;
	size_t host_len;
	struct url u;
	int rc;

	memset(&u, 0, sizeof u);
	u.scheme = scheme;
	if (strncasecmp(p, want, strlen(want)))
		return refuse(errmsg, "'%s': expected %sHOST[:PORT][/PATH]", text, want);
	p += strlen(want);
	if (*p == '[') {
		host = p + 1;
		host_end = strchr(host, ']');
		if (!host_end)
			return refuse(errmsg, "'%s': unclosed '['", text);
		p = host_end + 1;
	} else {
		host = p;
		p += strcspn(p, ":/?#");
		host_end = p;
	}
	host_len = (size_t)(host_end - host);
	if (host_len == 0 || host_len >= sizeof u.host)
		return refuse(errmsg, "'%s': no host, or a host too long", text);
	memcpy(u.host, host, host_len);
	u.port = 80;
	if (*p == ':') {
		char *end;
		long port = strtol(p + 1, &end, 10);
		if (end == p + 1 || port < 1 || port > 65535)
			return refuse(errmsg, "'%s': bad port", text);
		u.port = (int)port;
		p = end;
	}
	if (*p && *p != '/' && *p != '?')
		return refuse(errmsg, "'%s': unexpected '%c' after the host", text, *p);
	rc = snprintf(u.path, sizeof u.path, "%s%.*s", *p == '/' ? "" : "/", (int)strcspn(p, "#"),
		      p);
	if (rc < 0 || (size_t)rc >= sizeof u.path)
		return refuse(errmsg, "'%s': the path is too long", text);
	snprintf(u.host_header, sizeof u.host_header, strchr(u.host, ':') ? "[%s]:%d" : "%s:%d",
		 u.host, u.port);
	if ((rc = resolve(&u, errmsg)))
		return rc;
	*out = u;
	return 0;
}

int
url_with_path(const struct url *u, const char *path, struct url *out)
{
	if (strlen(path) >= sizeof out->path)
		return ERR_TOOBIG;
	*out = *u;
	snprintf(out->path, sizeof out->path, "%s", path);
	return 0;
}

int
url_path_with_param(const struct url *u, const char *name, const char *value, char *buf,
		    size_t size)
{
	int n = snprintf(buf, size, "%s%c%s=%s", u->path, strchr(u->path, '?') ? '&' : '?', name,
			 value);
	return n < 0 || (size_t)n >= size ? ERR_TOOBIG : 0;
}
