/*
 * URL and HOST:PORT parsing (url.h). One reading of a host and a port
 * serves both forms: url_parse() applies it to the authority between "//"
 * and the path, url_split_host_port() to a whole argument. They differ in
 * what may be left out (a URL's port; a listen address's host), in the
 * lowest port (a listener may ask for port 0, any free one) and in how an
 * IPv6 zone is written (a URL escapes its '%' as "%25").
 */
#include "url.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "err.h"

/* Text quoted in a message is cut to this many bytes. */
#define QUOTE_MAX 60

/* Where a host and port come from: a URL's authority or a listen address. */
enum form { FORM_URL, FORM_LISTEN };

static const struct {
	enum url_scheme scheme;
	const char *name;
	int port;
	int tls;
} schemes_known[] = {
	{URL_HTTP, "http", 80, 0},
	{URL_HTTPS, "https", 443, 1},
	{URL_WS, "ws", 80, 0},
	{URL_WSS, "wss", 443, 1},
};

#define SCHEME_COUNT (sizeof schemes_known / sizeof schemes_known[0])

/* The length of s to quote in a message. */
static int
quoted(size_t len)
{
	return (int)(len > QUOTE_MAX ? QUOTE_MAX : len);
}

static int
is_alnum(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* RFC 3986 unreserved characters, which are sent as they are. */
static int
unreserved(unsigned char c)
{
	return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
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

/* Write the accepted schemes as "ws:// or wss://" into buf. */
static void
scheme_list(unsigned schemes, char *buf, size_t size)
{
	size_t count = 0, done = 0, len = 0;

	for (size_t i = 0; i < SCHEME_COUNT; i++)
		count += (schemes & schemes_known[i].scheme) != 0;
	buf[0] = '\0';
	for (size_t i = 0; i < SCHEME_COUNT; i++) {
		if (!(schemes & schemes_known[i].scheme))
			continue;
		done++;
		snprintf(buf + len, size - len, "%s%s://",
			 done == 1       ? ""
			 : done == count ? " or "
					 : ", ",
			 schemes_known[i].name);
		len += strlen(buf + len);
	}
}

/* A port of digits only, from min to 65535, into *port. */
static int
parse_port(const char *s, size_t len, int min, int *port, char *errmsg)
{
	size_t digits = 0;
	long v = 0;

	while (digits < len && s[digits] >= '0' && s[digits] <= '9')
		digits++;
	if (len == 0 || digits < len || len > 5)
		return err_set(errmsg, ERR_INVAL, "invalid port '%.*s'", quoted(len), s);
	for (size_t i = 0; i < len; i++)
		v = v * 10 + (s[i] - '0');
	if (v < min || v > 65535)
		return err_set(errmsg, ERR_INVAL, "port %ld is out of range (%d-65535)", v, min);
	*port = (int)v;
	return 0;
}

/* Copy s[0..len) and, if zone, '%' and zone[0..zlen) into host (size bytes). */
static int
put_host(const char *s, size_t len, const char *zone, size_t zlen, char *host, size_t size,
	 char *errmsg)
{
	size_t total = len + (zone ? 1 + zlen : 0);

	if (total >= size)
		return err_set(errmsg, ERR_INVAL, "the host is longer than %zu characters",
			       size - 1);
	memcpy(host, s, len);
	if (zone) {
		host[len] = '%';
		memcpy(host + len + 1, zone, zlen);
	}
	host[total] = '\0';
	return 0;
}

/* The inside of [...] in s[0..len): an IPv6 address and an optional zone. */
static int
parse_v6(const char *s, size_t len, enum form form, char *host, size_t size, char *errmsg)
{
	const char *pct = memchr(s, '%', len), *zone = NULL;
	size_t alen = pct ? (size_t)(pct - s) : len, zlen = 0;
	char text[INET6_ADDRSTRLEN];
	struct in6_addr addr;

	if (alen > 0 && alen < sizeof text) {
		memcpy(text, s, alen);
		text[alen] = '\0';
	}
	if (alen == 0 || alen >= sizeof text || inet_pton(AF_INET6, text, &addr) != 1)
		return err_set(errmsg, ERR_INVAL, "'%.*s' in brackets is not an IPv6 address",
			       quoted(len), s);
	if (pct) {
		zone = pct + 1;
		zlen = len - alen - 1;
		if (form == FORM_URL && zlen >= 2 && zone[0] == '2' && zone[1] == '5') {
			zone += 2;
			zlen -= 2;
		}
		for (size_t i = 0; i < zlen; i++)
			if (!unreserved((unsigned char)zone[i]))
				zlen = 0;
		if (zlen == 0)
			return err_set(errmsg, ERR_INVAL, "invalid zone in the IPv6 address '%.*s'",
				       quoted(len), s);
	}
	return put_host(s, alen, zone, zlen, host, size, errmsg);
}

/* A host name or an IPv4 address: letters, digits, '.', '-' and '_'. */
static int
parse_name(const char *s, size_t len, char *host, size_t size, char *errmsg)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!is_alnum(c) && c != '.' && c != '-' && c != '_')
			return err_set(errmsg, ERR_INVAL, "invalid host '%.*s'", quoted(len), s);
	}
	return put_host(s, len, NULL, 0, host, size, errmsg);
}

/*
 * Read "host", "host:port", "[v6]" or "[v6]:port" in s[0..len) into host
 * (size bytes) and *port; *port is -1 when none is given. In a URL an empty
 * port is no port and the host may not be empty; a listen address needs
 * its port, and an empty host is left for the caller to fill.
 */
static int
parse_authority(const char *s, size_t len, enum form form, char *host, size_t size, int *port,
		char *errmsg)
{
	const char *end = s + len, *port_s = NULL;
	int rc;

	*port = -1;
	if (len && s[0] == '[') {
		const char *close = memchr(s, ']', len);
		if (!close)
			return err_set(errmsg, ERR_INVAL, "'[' without ']' around the host");
		if (close + 1 < end && close[1] != ':')
			return err_set(errmsg, ERR_INVAL, "unexpected text after ']': '%.*s'",
				       quoted((size_t)(end - close - 1)), close + 1);
		if (close + 1 < end)
			port_s = close + 2;
		rc = parse_v6(s + 1, (size_t)(close - s - 1), form, host, size, errmsg);
	} else {
		const char *colon = memchr(s, ':', len);
		if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1)))
			return err_set(errmsg, ERR_INVAL,
				       "an IPv6 address goes in brackets, as in [::1]:8000");
		if (colon)
			port_s = colon + 1;
		else
			colon = end;
		if (colon == s && form == FORM_URL)
			return err_set(errmsg, ERR_INVAL, "the URL has no host");
		rc = parse_name(s, (size_t)(colon - s), host, size, errmsg);
	}
	if (rc)
		return rc;
	if (form == FORM_LISTEN && (!port_s || port_s == end))
		return err_set(errmsg, ERR_INVAL,
			       "no port: expected HOST:PORT, e.g. 127.0.0.1:8000");
	if (!port_s || port_s == end)
		return 0;
	return parse_port(port_s, (size_t)(end - port_s), form == FORM_URL, port, errmsg);
}

int
url_parse(const char *text, unsigned schemes, const char *default_path, struct url *out,
	  char *errmsg)
{
	size_t n = strcspn(text, ":/?#"), i;
	const char *p, *end, *auth_end, *path_end;
	char want[64];
	struct url u;
	int port;

	scheme_list(schemes, want, sizeof want);
	if (strncmp(text + n, "://", 3) || n == 0)
		return err_set(errmsg, ERR_INVAL, "'%.*s' is not a %s URL", quoted(strlen(text)),
			       text, want);
	for (i = 0; i < SCHEME_COUNT; i++)
		if (strlen(schemes_known[i].name) == n &&
		    !strncasecmp(text, schemes_known[i].name, n))
			break;
	if (i == SCHEME_COUNT || !(schemes & schemes_known[i].scheme))
		return err_set(errmsg, ERR_INVAL, "unsupported scheme '%.*s' (expected %s)",
			       quoted(n), text, want);
	memset(&u, 0, sizeof u);
	u.scheme = schemes_known[i].scheme;
	u.tls = schemes_known[i].tls;
	u.port = schemes_known[i].port;

	p = text + n + 3;
	end = p + strcspn(p, "#");
	auth_end = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t)(auth_end - p)))
		return err_set(errmsg, ERR_INVAL,
			       "user information (user@host) in a URL is not supported");
	if (parse_authority(p, (size_t)(auth_end - p), FORM_URL, u.host, sizeof u.host, &port,
			    errmsg))
		return ERR_INVAL;
	if (port >= 0)
		u.port = port;

	path_end = auth_end + strcspn(auth_end, "?#");
	n = (size_t)(path_end - auth_end);
	if (n == 0) {
		p = default_path;
		n = strlen(default_path);
	} else {
		p = auth_end;
		if (!printable(p, n))
			return err_set(errmsg, ERR_INVAL,
				       "the URL's path has spaces, control or non-ASCII "
				       "characters (percent-encode them)");
	}
	if (n >= sizeof u.path)
		return err_set(errmsg, ERR_INVAL, "the URL's path is longer than %d bytes",
			       URL_PATH_MAX - 1);
	memcpy(u.path, p, n);
	if (*path_end == '?') {
		p = path_end + 1;
		n = (size_t)(end - p);
		if (!printable(p, n))
			return err_set(errmsg, ERR_INVAL,
				       "the URL's query string has spaces, control or "
				       "non-ASCII characters (percent-encode them)");
		if (strlen(u.path) + 1 + n >= URL_PATH_MAX)
			return err_set(errmsg, ERR_INVAL,
				       "the URL's path and query string are longer than %d bytes",
				       URL_PATH_MAX - 1);
		memcpy(u.query, p, n);
	}
	*out = u;
	return 0;
}

/* The port a URL of this scheme has when it names none. */
static int
default_port(enum url_scheme scheme)
{
	for (size_t i = 0; i < SCHEME_COUNT; i++)
		if (schemes_known[i].scheme == scheme)
			return schemes_known[i].port;
	return 0;
}

/* Write u's host (v6 in brackets, with its zone if keep_zone) and port if with_port. */
static int
authority(const struct url *u, int keep_zone, int with_port, char *buf, size_t size)
{
	int v6 = strchr(u->host, ':') != NULL;
	int host_len = (int)(keep_zone ? strlen(u->host) : strcspn(u->host, "%"));
	int n;

	if (with_port)
		n = snprintf(buf, size, v6 ? "[%.*s]:%d" : "%.*s:%d", host_len, u->host, u->port);
	else
		n = snprintf(buf, size, v6 ? "[%.*s]" : "%.*s", host_len, u->host);
	return n < 0 || (size_t)n >= size ? ERR_TOOBIG : 0;
}

int
url_host_header(const struct url *u, char *buf, size_t size)
{
	/* A zone means something on this machine only: it is not sent. */
	return authority(u, 0, u->port != default_port(u->scheme), buf, size);
}

int
url_host_port(const struct url *u, char *buf, size_t size)
{
	return authority(u, 1, 1, buf, size);
}

int
url_request_path(const struct url *u, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s%s%s", u->path, u->query[0] ? "?" : "", u->query);

	return n < 0 || (size_t)n >= size ? ERR_TOOBIG : 0;
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

int
url_split_host_port(const char *text, char *host, size_t host_size, int *port, char *errmsg)
{
	char h[URL_HOST_MAX + 1];
	int p;

	if (!strchr(text, ':'))
		return err_set(errmsg, ERR_INVAL, "expected HOST:PORT, e.g. 127.0.0.1:8000");
	if (parse_authority(text, strlen(text), FORM_LISTEN, h,
			    host_size < sizeof h ? host_size : sizeof h, &p, errmsg))
		return ERR_INVAL;
	memcpy(host, h, strlen(h) + 1);
	*port = p;
	return 0;
}
