/*
 * Fuzz target: URLs and HOST:PORT (url.c).
 *
 * The first input byte chooses the schemes url_parse() accepts (its low
 * four bits; none means all); the rest, up to its first NUL, is tried
 * three ways:
 *  - url_parse(): a refusal leaves the output untouched and says why. An
 *    accepted URL has a scheme of the set, a host of name characters or a
 *    valid IPv6 address with an optional zone, a port in 1-65535, and a
 *    path and query of printable ASCII that fit URL_PATH_MAX together; its
 *    Host header, host:port and request path can be written; and the URL
 *    written back from its parts parses to the same parts.
 *  - url_split_host_port(): likewise, with a port in 0-65535 and a round
 *    trip through "host:port" or "[v6]:port".
 *  - url_append_param(): the value percent-decodes back to the input, or
 *    the buffer is left as it was.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fuzz.h"
#include "url.h"

#define ALL_SCHEMES (URL_HTTP | URL_HTTPS | URL_WS | URL_WSS)

static const char *
scheme_name(enum url_scheme s)
{
	return s == URL_HTTP ? "http" : s == URL_HTTPS ? "https" : s == URL_WS ? "ws" : "wss";
}

static int
name_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_';
}

static int
unreserved(unsigned char c)
{
	return name_char(c) || c == '~';
}

static int
printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

/* A host as url.c hands it over: a name, or IPv6 with an optional "%zone". */
static void
check_host(const char *host, int may_be_empty)
{
	const char *pct = strchr(host, '%');
	char addr[64];
	struct in6_addr a;

	FUZZ_CHECK(strlen(host) <= URL_HOST_MAX, "host of %zu bytes", strlen(host));
	if (!strchr(host, ':')) {
		FUZZ_CHECK(may_be_empty || *host, "an empty host");
		for (const char *p = host; *p; p++)
			FUZZ_CHECK(name_char((unsigned char)*p), "host \"%s\"", host);
		return;
	}
	size_t alen = pct ? (size_t)(pct - host) : strlen(host);
	FUZZ_CHECK(alen < sizeof addr, "IPv6 address of %zu bytes", alen);
	memcpy(addr, host, alen);
	addr[alen] = '\0';
	FUZZ_CHECK(inet_pton(AF_INET6, addr, &a) == 1, "\"%s\" is not IPv6", addr);
	if (pct) {
		FUZZ_CHECK(pct[1], "an empty zone in \"%s\"", host);
		for (const char *p = pct + 1; *p; p++)
			FUZZ_CHECK(unreserved((unsigned char)*p), "zone of \"%s\"", host);
	}
}

/* Write host as a URL or a listen address writes it: IPv6 in brackets. */
static void
put_host(char *out, size_t size, const char *host, int url_form)
{
	const char *pct = strchr(host, '%');

	if (!strchr(host, ':'))
		snprintf(out, size, "%s", host);
	else if (pct)
		snprintf(out, size, "[%.*s%s%s]", (int)(pct - host), host, url_form ? "%25" : "%",
			 pct + 1);
	else
		snprintf(out, size, "[%s]", host);
}

static void
check_url(const char *text, unsigned schemes)
{
	static char again[2 * URL_PATH_MAX + URL_HOST_PORT_SIZE + 64];
	char errmsg[ERRMSG_SIZE], buf[URL_PATH_MAX], host[URL_HOST_PORT_SIZE + 8];
	struct url u, v;
	int rc;

	memset(&u, 0x5a, sizeof u);
	errmsg[0] = '\0';
	rc = url_parse(text, schemes, "/dflt", &u, errmsg);
	if (rc) {
		FUZZ_CHECK(rc == ERR_INVAL, "url_parse returned %d", rc);
		FUZZ_CHECK(errmsg[0] && strlen(errmsg) < ERRMSG_SIZE, "no reason given");
		for (size_t i = 0; i < sizeof u; i++)
			FUZZ_CHECK(((unsigned char *)&u)[i] == 0x5a, "out written on failure");
		return;
	}
	FUZZ_CHECK(u.scheme & schemes, "scheme %d not in %u", u.scheme, schemes);
	FUZZ_CHECK(u.tls == (u.scheme == URL_HTTPS || u.scheme == URL_WSS), "tls %d", u.tls);
	check_host(u.host, 0);
	FUZZ_CHECK(u.port >= 1 && u.port <= 65535, "port %d", u.port);
	FUZZ_CHECK(u.path[0] == '/', "path \"%s\"", u.path);
	FUZZ_CHECK(printable(u.path) && printable(u.query), "unprintable path or query");
	FUZZ_CHECK(strlen(u.path) + 1 + strlen(u.query) < URL_PATH_MAX, "path and query too long");
	FUZZ_CHECK(!url_host_header(&u, buf, URL_HOST_PORT_SIZE), "Host header of \"%s\"", text);
	FUZZ_CHECK(!strchr(buf, '%'), "a zone in the Host header \"%s\"", buf);
	FUZZ_CHECK(!url_host_port(&u, buf, URL_HOST_PORT_SIZE), "host:port of \"%s\"", text);
	FUZZ_CHECK(!url_request_path(&u, buf, sizeof buf), "request path of \"%s\"", text);

	put_host(host, sizeof host, u.host, 1);
	snprintf(again, sizeof again, "%s://%s:%d%s%s%s", scheme_name(u.scheme), host, u.port,
		 u.path, u.query[0] ? "?" : "", u.query);
	rc = url_parse(again, u.scheme, "/other", &v, errmsg);
	FUZZ_CHECK(!rc, "\"%s\" written back as \"%s\" is refused: %s", text, again, errmsg);
	FUZZ_CHECK(v.scheme == u.scheme && v.tls == u.tls && v.port == u.port &&
			   !strcmp(v.host, u.host) && !strcmp(v.path, u.path) &&
			   !strcmp(v.query, u.query),
		   "\"%s\" written back as \"%s\" parses differently", text, again);
}

static void
check_split(const char *text)
{
	char errmsg[ERRMSG_SIZE], h[URL_HOST_MAX + 1] = "untouched", h2[URL_HOST_MAX + 1];
	char again[URL_HOST_PORT_SIZE + 16], host[URL_HOST_PORT_SIZE + 8];
	int port = -7, port2 = -7;
	int rc = url_split_host_port(text, h, sizeof h, &port, errmsg);

	if (rc) {
		FUZZ_CHECK(rc == ERR_INVAL, "url_split_host_port returned %d", rc);
		FUZZ_CHECK(!strcmp(h, "untouched") && port == -7, "output written on failure");
		return;
	}
	check_host(h, 1);
	FUZZ_CHECK(port >= 0 && port <= 65535, "port %d", port);
	put_host(host, sizeof host, h, 0);
	snprintf(again, sizeof again, "%s:%d", host, port);
	rc = url_split_host_port(again, h2, sizeof h2, &port2, errmsg);
	FUZZ_CHECK(!rc && !strcmp(h, h2) && port == port2,
		   "\"%s\" written back as \"%s\" splits differently", text, again);
}

static int
hex_value(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void
check_append(const char *value)
{
	static char buf[URL_PATH_MAX];
	static char decoded[URL_PATH_MAX];
	size_t n = 0;
	const char *p;

	strcpy(buf, "/p?a=1");
	if (url_append_param(buf, sizeof buf, "v", value)) {
		FUZZ_CHECK(!strcmp(buf, "/p?a=1"), "buffer changed on failure");
		return;
	}
	FUZZ_CHECK(!strncmp(buf, "/p?a=1&v=", 9), "appended as \"%.40s\"", buf);
	for (p = buf + 9; *p; p++) {
		if (*p == '%') {
			int hi = hex_value(p[1]), lo = hi < 0 ? -1 : hex_value(p[2]);
			FUZZ_CHECK(hi >= 0 && lo >= 0, "bad escape in \"%s\"", buf);
			decoded[n++] = (char)(hi * 16 + lo);
			p += 2;
		} else {
			FUZZ_CHECK(unreserved((unsigned char)*p), "'%c' sent unescaped", *p);
			decoded[n++] = *p;
		}
	}
	decoded[n] = '\0';
	FUZZ_CHECK(!strcmp(decoded, value), "the value does not decode back");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned schemes;
	char *text;

	if (size < 1)
		return 0;
	schemes = data[0] & ALL_SCHEMES;
	if (!schemes)
		schemes = ALL_SCHEMES;
	text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	check_url(text, schemes);
	check_split(text);
	check_append(text);
	free(text);
	return 0;
}
