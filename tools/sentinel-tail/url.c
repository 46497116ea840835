/*
 * ws:// URLs (see url.h). Only what a WebSocket client needs is accepted:
 * no user information, a host name or address, an optional port, a path
 * and a query string of printable ASCII (anything else must already be
 * percent-encoded), and a fragment, which is never sent.
 */
#include "url.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "err.h"

#define DEFAULT_PATH "/ws/logs"

/* Parameters sentinel-tail sends itself, so the URL may not set them. */
static const char *const managed[] = {"after_id", "epoch", "control", "since", "type"};

/* Write why a URL is refused into errmsg; returns ERR_INVAL. */
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

/* RFC 3986 unreserved characters, which are sent as they are. */
static int
unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* True when all of s[0..len) are printable ASCII other than space. */
static int
printable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

/* True when all of s[0..len) are in the set chars (or alphanumeric, if alnum). */
static int
only(const char *s, size_t len, const char *chars, int alnum)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		int ok = (alnum && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
				    (c >= '0' && c <= '9'))) ||
			 (c && strchr(chars, c));
		if (!ok)
			return 0;
	}
	return 1;
}

/* Refuse a query string that sets a parameter sentinel-tail manages. */
static int
check_query(const char *q, size_t len, char *errmsg)
{
	const char *end = q + len;

	while (q < end) {
		const char *amp = memchr(q, '&', (size_t)(end - q));
		const char *stop = amp ? amp : end;
		const char *eq = memchr(q, '=', (size_t)(stop - q));
		size_t nlen = (size_t)((eq ? eq : stop) - q);

		for (size_t i = 0; i < sizeof managed / sizeof managed[0]; i++)
			if (nlen == strlen(managed[i]) && !memcmp(q, managed[i], nlen))
				return refuse(errmsg,
					      "the URL may not set '%s': sentinel-tail sends it "
					      "itself (use --since and --type to choose events)",
					      managed[i]);
		q = amp ? amp + 1 : end;
	}
	return 0;
}

/* The port after ':' in s[0..len): empty means the scheme's default. */
static int
parse_port(const char *s, size_t len, int *port, char *errmsg)
{
	long v = 0;

	if (len == 0)
		return 0;
	if (len > 5 || !only(s, len, "0123456789", 0))
		return refuse(errmsg, "invalid port '%.*s' in the URL", (int)(len > 20 ? 20 : len),
			      s);
	for (size_t i = 0; i < len; i++)
		v = v * 10 + (s[i] - '0');
	if (v < 1 || v > 65535)
		return refuse(errmsg, "port %ld in the URL is out of range (1-65535)", v);
	*port = (int)v;
	return 0;
}

int
url_parse(const char *text, struct url *out, char *errmsg)
{
	struct url u;
	const char *p, *end, *auth_end, *host, *host_end, *port_s = NULL, *path_end;
	size_t n;

	memset(&u, 0, sizeof u);
	if (!strncasecmp(text, "ws://", 5)) {
		p = text + 5;
	} else if (!strncasecmp(text, "wss://", 6)) {
		u.tls = 1;
		p = text + 6;
	} else {
		const char *sep = strstr(text, "://");
		if (sep && sep > text && sep - text <= 16)
			return refuse(errmsg,
				      "unsupported scheme '%.*s': expected a ws:// URL such "
				      "as ws://127.0.0.1:8000/ws/logs",
				      (int)(sep - text), text);
		return refuse(errmsg,
			      "'%.60s' is not a ws:// URL (such as "
			      "ws://127.0.0.1:8000/ws/logs)",
			      text);
	}
	u.port = u.tls ? 443 : 80;

	end = p + strcspn(p, "#");
	auth_end = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t)(auth_end - p)))
		return refuse(errmsg, "user information (user@host) in the URL is not supported");

	if (*p == '[') {
		host = p + 1;
		host_end = memchr(host, ']', (size_t)(auth_end - host));
		if (!host_end)
			return refuse(errmsg, "the URL has '[' without ']' around its host");
		if (!only(host, (size_t)(host_end - host), "0123456789abcdefABCDEF:.", 0) ||
		    !memchr(host, ':', (size_t)(host_end - host)))
			return refuse(errmsg, "'%.*s' in brackets is not an IPv6 address",
				      (int)(host_end - host > 60 ? 60 : host_end - host), host);
		if (host_end + 1 < auth_end) {
			if (host_end[1] != ':')
				return refuse(errmsg,
					      "unexpected text after ']' in the URL's host");
			port_s = host_end + 2;
		}
	} else {
		host = p;
		host_end = memchr(p, ':', (size_t)(auth_end - p));
		if (host_end && memchr(host_end + 1, ':', (size_t)(auth_end - host_end - 1)))
			return refuse(errmsg, "an IPv6 address in a URL goes in brackets, as in "
					      "ws://[::1]:8000/ws/logs");
		if (host_end)
			port_s = host_end + 1;
		else
			host_end = auth_end;
		if (!only(host, (size_t)(host_end - host), ".-_", 1))
			return refuse(errmsg, "invalid host '%.*s' in the URL",
				      (int)(host_end - host > 60 ? 60 : host_end - host), host);
	}
	n = (size_t)(host_end - host);
	if (n == 0)
		return refuse(errmsg, "the URL has no host");
	if (n > URL_HOST_MAX)
		return refuse(errmsg, "the URL's host is longer than %d characters", URL_HOST_MAX);
	memcpy(u.host, host, n);
	u.host[n] = '\0';
	if (port_s && parse_port(port_s, (size_t)(auth_end - port_s), &u.port, errmsg))
		return ERR_INVAL;
	snprintf(u.host_header, sizeof u.host_header, *p == '[' ? "[%s]" : "%s", u.host);
	if (u.port != (u.tls ? 443 : 80)) {
		size_t hl = strlen(u.host_header);
		snprintf(u.host_header + hl, sizeof u.host_header - hl, ":%d", u.port);
	}

	p = auth_end;
	path_end = p + strcspn(p, "?");
	if (path_end > end)
		path_end = end;
	n = (size_t)(path_end - p);
	if (n == 0) {
		strcpy(u.path, DEFAULT_PATH);
	} else {
		if (!printable(p, n))
			return refuse(errmsg, "the URL's path has spaces, control or non-ASCII "
					      "characters (percent-encode them)");
		if (n >= sizeof u.path)
			return refuse(errmsg, "the URL's path is too long");
		memcpy(u.path, p, n);
		u.path[n] = '\0';
	}
	if (path_end < end) {
		p = path_end + 1;
		n = (size_t)(end - p);
		if (!printable(p, n))
			return refuse(errmsg, "the URL's query string has spaces, control or "
					      "non-ASCII characters (percent-encode them)");
		if (n >= sizeof u.query || strlen(u.path) + n + 1 >= URL_PATH_MAX)
			return refuse(errmsg, "the URL's query string is too long");
		if (check_query(p, n, errmsg))
			return ERR_INVAL;
		memcpy(u.query, p, n);
		u.query[n] = '\0';
	}
	*out = u;
	return 0;
}

/* Append one character if it and the NUL still fit. */
static int
put(char *buf, size_t size, size_t *len, char c)
{
	if (*len + 1 >= size)
		return -1;
	buf[(*len)++] = c;
	return 0;
}

int
url_append_param(char *buf, size_t size, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t start = strlen(buf), len = start;
	int rc = put(buf, size, &len, strchr(buf, '?') ? '&' : '?');

	for (const char *s = name; !rc && *s; s++)
		rc = put(buf, size, &len, *s);
	if (!rc)
		rc = put(buf, size, &len, '=');
	for (const unsigned char *s = (const unsigned char *)value; !rc && *s; s++) {
		if (unreserved(*s)) {
			rc = put(buf, size, &len, (char)*s);
		} else {
			rc = put(buf, size, &len, '%');
			if (!rc)
				rc = put(buf, size, &len, hex[*s >> 4]);
			if (!rc)
				rc = put(buf, size, &len, hex[*s & 15]);
		}
	}
	if (rc) {
		buf[start] = '\0';
		return ERR_TOOBIG;
	}
	buf[len] = '\0';
	return 0;
}
