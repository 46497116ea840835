/*
 * Unit tests of url.c: every form of URL the tools take and every refusal,
 * the Host header and request path built from a URL, percent-encoded
 * parameters, and HOST:PORT as --listen takes it. A refusal leaves the
 * output untouched and says why.
 */
#include <string.h>

#include "assert.h"
#include "err.h"
#include "url.h"

#define ALL_SCHEMES (URL_HTTP | URL_HTTPS | URL_WS | URL_WSS)

/* text must parse (with default path "/dflt") into these parts. */
static void
url_is(const char *text, unsigned schemes, enum url_scheme scheme, const char *host, int port,
       const char *path, const char *query)
{
	char errmsg[ERRMSG_SIZE] = "";
	struct url u;
	int rc = url_parse(text, schemes, "/dflt", &u, errmsg);

	if (rc)
		fprintf(stderr, "refused '%s': %s\n", text, errmsg);
	ASSERT_OK(rc);
	ASSERT_EQ(u.scheme, scheme);
	ASSERT_EQ(u.tls, scheme == URL_HTTPS || scheme == URL_WSS);
	ASSERT_STR_EQ(u.host, host);
	ASSERT_EQ(u.port, port);
	ASSERT_STR_EQ(u.path, path);
	ASSERT_STR_EQ(u.query, query);
}

/* text must be refused, with a message that contains needle. */
static void
url_bad(const char *text, unsigned schemes, const char *needle)
{
	char errmsg[ERRMSG_SIZE] = "";
	struct url u;

	memset(&u, 0x5a, sizeof u);
	if (url_parse(text, schemes, "/dflt", &u, errmsg) != ERR_INVAL)
		fprintf(stderr, "accepted '%s'\n", text);
	ASSERT_EQ(url_parse(text, schemes, "/dflt", &u, errmsg), ERR_INVAL);
	if (!strstr(errmsg, needle))
		fprintf(stderr, "'%s': message '%s' does not say '%s'\n", text, errmsg, needle);
	ASSERT_NOT_NULL(strstr(errmsg, needle));
	for (size_t i = 0; i < sizeof u; i++)
		ASSERT_EQ(((unsigned char *)&u)[i], 0x5a);
}

TEST(parse_schemes_and_ports)
{
	url_is("ws://127.0.0.1:8000/ws/logs", URL_WS, URL_WS, "127.0.0.1", 8000, "/ws/logs", "");
	url_is("ws://localhost", URL_WS, URL_WS, "localhost", 80, "/dflt", "");
	url_is("wss://example.org", URL_WSS, URL_WSS, "example.org", 443, "/dflt", "");
	url_is("http://h/api/events", URL_HTTP, URL_HTTP, "h", 80, "/api/events", "");
	url_is("https://h:8443/", ALL_SCHEMES, URL_HTTPS, "h", 8443, "/", "");
	/* The scheme in any case; the host as written. */
	url_is("WS://Example.ORG:1/x", URL_WS, URL_WS, "Example.ORG", 1, "/x", "");
	url_is("Https://h", URL_HTTPS, URL_HTTPS, "h", 443, "/dflt", "");
	/* An empty port is the default one. */
	url_is("ws://h:/p", URL_WS, URL_WS, "h", 80, "/p", "");
	url_is("wss://h:", URL_WSS, URL_WSS, "h", 443, "/dflt", "");
	url_is("ws://h:65535", URL_WS, URL_WS, "h", 65535, "/dflt", "");
	url_is("ws://h:00080", URL_WS, URL_WS, "h", 80, "/dflt", "");
	url_is("ws://my-host_1.local:9/", URL_WS, URL_WS, "my-host_1.local", 9, "/", "");
}

TEST(parse_ipv6)
{
	url_is("ws://[::1]:8000/ws/logs", URL_WS, URL_WS, "::1", 8000, "/ws/logs", "");
	url_is("http://[::1]", URL_HTTP, URL_HTTP, "::1", 80, "/dflt", "");
	url_is("ws://[2001:db8::1]:/x", URL_WS, URL_WS, "2001:db8::1", 80, "/x", "");
	url_is("ws://[::ffff:127.0.0.1]:1", URL_WS, URL_WS, "::ffff:127.0.0.1", 1, "/dflt", "");
	/* A zone, as RFC 6874 writes it and as people write it. */
	url_is("ws://[fe80::1%25eth0]:8000/ws/logs", URL_WS, URL_WS, "fe80::1%eth0", 8000,
	       "/ws/logs", "");
	url_is("ws://[fe80::1%eth0]:8000", URL_WS, URL_WS, "fe80::1%eth0", 8000, "/dflt", "");
	url_is("ws://[fe80::1%25en-p0s3.1~x]", URL_WS, URL_WS, "fe80::1%en-p0s3.1~x", 80, "/dflt",
	       "");
}

TEST(parse_path_query_fragment)
{
	url_is("ws://h/ws/logs?token=abc", URL_WS, URL_WS, "h", 80, "/ws/logs", "token=abc");
	url_is("ws://h?token=abc", URL_WS, URL_WS, "h", 80, "/dflt", "token=abc");
	url_is("ws://h:8000?a=1&b=%20", URL_WS, URL_WS, "h", 8000, "/dflt", "a=1&b=%20");
	url_is("ws://h/p?", URL_WS, URL_WS, "h", 80, "/p", "");
	/* The fragment is dropped, wherever it starts. */
	url_is("ws://h/p#frag", URL_WS, URL_WS, "h", 80, "/p", "");
	url_is("ws://h/p?q=1#frag?x", URL_WS, URL_WS, "h", 80, "/p", "q=1");
	url_is("ws://h#frag", URL_WS, URL_WS, "h", 80, "/dflt", "");
	url_is("ws://h:81#", URL_WS, URL_WS, "h", 81, "/dflt", "");
	/* Path characters are kept as written, '%' escapes too. */
	url_is("http://h/a%2Fb/c;d=e/~f", URL_HTTP, URL_HTTP, "h", 80, "/a%2Fb/c;d=e/~f", "");
}

TEST(parse_refusals)
{
	url_bad("", URL_WS, "is not a ws:// URL");
	url_bad("127.0.0.1:8000", URL_WS | URL_WSS, "is not a ws:// or wss:// URL");
	url_bad("localhost:8000/ws/logs", URL_WS, "is not a");
	url_bad("//h/x", URL_WS, "is not a");
	url_bad("ws:/h/x", URL_WS, "is not a");
	url_bad("ws//h", URL_WS, "is not a");
	url_bad("http://127.0.0.1:8000/ws/logs", URL_WS | URL_WSS,
		"unsupported scheme 'http' (expected ws:// or wss://)");
	url_bad("https://h", URL_HTTP, "unsupported scheme 'https' (expected http://)");
	url_bad("ftp://h", ALL_SCHEMES, "expected http://, https://, ws:// or wss://");
	url_bad("wsx://h", URL_WS, "unsupported scheme 'wsx'");
	url_bad("ws://user@h/x", URL_WS, "user@host");
	url_bad("ws://user:pw@h", URL_WS, "user@host");
	url_bad("ws://", URL_WS, "no host");
	url_bad("ws:///ws/logs", URL_WS, "no host");
	url_bad("ws://:8000/ws/logs", URL_WS, "no host");
	url_bad("ws://?x", URL_WS, "no host");
	url_bad("ws://bad host/", URL_WS, "invalid host 'bad host'");
	url_bad("ws://h\xc3\xa9/", URL_WS, "invalid host");
	url_bad("ws://h%41/", URL_WS, "invalid host");
	url_bad("ws://::1/ws/logs", URL_WS, "brackets");
	url_bad("ws://fe80::1:8000", URL_WS, "brackets");
	url_bad("ws://[::1/x", URL_WS, "'[' without ']'");
	url_bad("ws://[::1]x/", URL_WS, "after ']'");
	url_bad("ws://[::1]8000/", URL_WS, "after ']'");
	url_bad("ws://[]:80/", URL_WS, "not an IPv6 address");
	url_bad("ws://[1.2.3.4]/", URL_WS, "'1.2.3.4' in brackets is not an IPv6 address");
	url_bad("ws://[zz::1]/", URL_WS, "not an IPv6 address");
	url_bad("ws://[::1::2]/", URL_WS, "not an IPv6 address");
	url_bad("ws://[0000:0000:0000:0000:0000:0000:0000:0000:0000]/", URL_WS,
		"not an IPv6 address");
	url_bad("ws://[fe80::1%]/", URL_WS, "zone");
	url_bad("ws://[fe80::1%25]/", URL_WS, "zone");
	url_bad("ws://[fe80::1%eth 0]/", URL_WS, "zone");
	url_bad("ws://[fe80::1%eth%0]/", URL_WS, "zone");
	url_bad("ws://h:0/", URL_WS, "port 0 is out of range (1-65535)");
	url_bad("ws://h:65536/", URL_WS, "port 65536 is out of range");
	url_bad("ws://127.0.0.1:99999/ws/logs", URL_WS, "port 99999");
	url_bad("ws://h:123456/", URL_WS, "invalid port '123456'");
	url_bad("ws://h:8o/", URL_WS, "invalid port '8o'");
	url_bad("ws://h:-1/", URL_WS, "invalid port '-1'");
	url_bad("ws://h:+80/", URL_WS, "invalid port");
	url_bad("ws://h:80:81/", URL_WS, "brackets");
	url_bad("ws://[::1]:x/", URL_WS, "invalid port 'x'");
	url_bad("ws://h/a b", URL_WS, "path has spaces");
	url_bad("ws://h/\xc3\xa9", URL_WS, "path has spaces, control or non-ASCII");
	url_bad("ws://h/a\tb", URL_WS, "path");
	url_bad("ws://h/?a=b c", URL_WS, "query string has spaces");
	url_bad("ws://h/?a=\x7f", URL_WS, "query string");
}

TEST(parse_lengths)
{
	static char text[3 * URL_PATH_MAX];
	char host[URL_HOST_MAX + 2];
	char errmsg[ERRMSG_SIZE];
	struct url u;

	/* A host of URL_HOST_MAX characters fits, one more does not. */
	memset(host, 'h', URL_HOST_MAX);
	host[URL_HOST_MAX] = '\0';
	snprintf(text, sizeof text, "ws://%s:1/", host);
	ASSERT_OK(url_parse(text, URL_WS, "/", &u, errmsg));
	ASSERT_EQ(strlen(u.host), URL_HOST_MAX);
	strcat(host, "h");
	snprintf(text, sizeof text, "ws://%s:1/", host);
	url_bad(text, URL_WS, "longer than 255 characters");

	/* A path of URL_PATH_MAX - 1 bytes fits, with no query. */
	strcpy(text, "ws://h");
	memset(text + 6, 'p', URL_PATH_MAX - 1);
	text[6] = '/';
	text[6 + URL_PATH_MAX - 1] = '\0';
	ASSERT_OK(url_parse(text, URL_WS, "/", &u, errmsg));
	ASSERT_EQ(strlen(u.path), URL_PATH_MAX - 1);
	strcat(text, "p");
	url_bad(text, URL_WS, "path is longer");

	/* Path and query must fit together. */
	snprintf(text, sizeof text, "ws://h/p?");
	memset(text + 9, 'q', URL_PATH_MAX - 4);
	text[9 + URL_PATH_MAX - 4] = '\0';
	ASSERT_OK(url_parse(text, URL_WS, "/", &u, errmsg));
	ASSERT_EQ(strlen(u.path) + 1 + strlen(u.query), URL_PATH_MAX - 1);
	strcat(text, "q");
	url_bad(text, URL_WS, "path and query string are longer");
}

/* The Host header and host:port of text. */
static void
authority_is(const char *text, const char *header, const char *host_port)
{
	char errmsg[ERRMSG_SIZE], buf[URL_HOST_PORT_SIZE];
	struct url u;

	ASSERT_OK(url_parse(text, ALL_SCHEMES, "/", &u, errmsg));
	ASSERT_OK(url_host_header(&u, buf, sizeof buf));
	ASSERT_STR_EQ(buf, header);
	ASSERT_OK(url_host_port(&u, buf, sizeof buf));
	ASSERT_STR_EQ(buf, host_port);
}

TEST(host_header_and_host_port)
{
	char errmsg[ERRMSG_SIZE], buf[URL_HOST_PORT_SIZE];
	struct url u;

	authority_is("ws://127.0.0.1:8000/ws/logs", "127.0.0.1:8000", "127.0.0.1:8000");
	authority_is("ws://h/", "h", "h:80");
	authority_is("ws://h:80/", "h", "h:80");
	authority_is("wss://h:80/", "h:80", "h:80");
	authority_is("wss://h/", "h", "h:443");
	authority_is("http://h:443/", "h:443", "h:443");
	authority_is("https://h:443/", "h", "h:443");
	authority_is("ws://[::1]:8000/", "[::1]:8000", "[::1]:8000");
	authority_is("http://[::1]/", "[::1]", "[::1]:80");
	/* A zone is not sent, but is shown. */
	authority_is("ws://[fe80::1%25eth0]:8000/", "[fe80::1]:8000", "[fe80::1%eth0]:8000");

	/* Too small a buffer. */
	ASSERT_OK(url_parse("ws://abc:8000/", URL_WS, "/", &u, errmsg));
	ASSERT_EQ(url_host_header(&u, buf, 8), ERR_TOOBIG);
	ASSERT_OK(url_host_header(&u, buf, 9));
	ASSERT_STR_EQ(buf, "abc:8000");
	ASSERT_EQ(url_host_port(&u, buf, 8), ERR_TOOBIG);
}

TEST(request_path)
{
	char errmsg[ERRMSG_SIZE], buf[URL_PATH_MAX];
	struct url u;

	ASSERT_OK(url_parse("ws://h/ws/logs", URL_WS, "/", &u, errmsg));
	ASSERT_OK(url_request_path(&u, buf, sizeof buf));
	ASSERT_STR_EQ(buf, "/ws/logs");
	ASSERT_OK(url_parse("ws://h?token=a%20b#x", URL_WS, "/ws/logs", &u, errmsg));
	ASSERT_OK(url_request_path(&u, buf, sizeof buf));
	ASSERT_STR_EQ(buf, "/ws/logs?token=a%20b");
	ASSERT_EQ(url_request_path(&u, buf, strlen("/ws/logs?token=a%20b")), ERR_TOOBIG);
	ASSERT_OK(url_request_path(&u, buf, strlen("/ws/logs?token=a%20b") + 1));
}

TEST(append_param)
{
	char buf[64] = "/ws/logs";

	ASSERT_OK(url_append_param(buf, sizeof buf, "control", "1"));
	ASSERT_STR_EQ(buf, "/ws/logs?control=1");
	ASSERT_OK(url_append_param(buf, sizeof buf, "type", "a,b c"));
	ASSERT_STR_EQ(buf, "/ws/logs?control=1&type=a%2Cb%20c");
	strcpy(buf, "/p");
	ASSERT_OK(url_append_param(buf, sizeof buf, "since", "2026-03-09T14:00:00+02:00"));
	ASSERT_STR_EQ(buf, "/p?since=2026-03-09T14%3A00%3A00%2B02%3A00");
	strcpy(buf, "/p");
	ASSERT_OK(url_append_param(buf, sizeof buf, "x", "\xc3\xb1~._-"));
	ASSERT_STR_EQ(buf, "/p?x=%C3%B1~._-");
	strcpy(buf, "/p");
	ASSERT_OK(url_append_param(buf, sizeof buf, "empty", ""));
	ASSERT_STR_EQ(buf, "/p?empty=");

	/* Exactly full, then one byte short: buf is left as it was. */
	char small[12] = "/p";
	ASSERT_OK(url_append_param(small, sizeof small, "a", "%%"));
	ASSERT_STR_EQ(small, "/p?a=%25%25");
	strcpy(small, "/p");
	ASSERT_EQ(url_append_param(small, sizeof small - 1, "a", "%%"), ERR_TOOBIG);
	ASSERT_STR_EQ(small, "/p");
	ASSERT_EQ(url_append_param(small, 4, "name", "v"), ERR_TOOBIG);
	ASSERT_STR_EQ(small, "/p");
}

/* host:port text must split into host and port. */
static void
split_is(const char *text, const char *host, int port)
{
	char errmsg[ERRMSG_SIZE] = "", h[256];
	int p = -7;
	int rc = url_split_host_port(text, h, sizeof h, &p, errmsg);

	if (rc)
		fprintf(stderr, "refused '%s': %s\n", text, errmsg);
	ASSERT_OK(rc);
	ASSERT_STR_EQ(h, host);
	ASSERT_EQ(p, port);
}

/* host:port text must be refused, saying something that contains needle. */
static void
split_bad(const char *text, const char *needle)
{
	char errmsg[ERRMSG_SIZE] = "", h[256] = "untouched";
	int p = -7;

	if (url_split_host_port(text, h, sizeof h, &p, errmsg) != ERR_INVAL)
		fprintf(stderr, "accepted '%s'\n", text);
	ASSERT_EQ(url_split_host_port(text, h, sizeof h, &p, errmsg), ERR_INVAL);
	if (!strstr(errmsg, needle))
		fprintf(stderr, "'%s': message '%s' does not say '%s'\n", text, errmsg, needle);
	ASSERT_NOT_NULL(strstr(errmsg, needle));
	ASSERT_STR_EQ(h, "untouched");
	ASSERT_EQ(p, -7);
}

TEST(split_host_port)
{
	split_is("0.0.0.0:9000", "0.0.0.0", 9000);
	split_is("127.0.0.1:8000", "127.0.0.1", 8000);
	split_is("[::1]:8000", "::1", 8000);
	split_is("[::]:8002", "::", 8002);
	split_is("[fe80::1%eth0]:443", "fe80::1%eth0", 443);
	/* Outside a URL "%25" is no escape: the zone is "25eth0". */
	split_is("[fe80::1%25eth0]:443", "fe80::1%25eth0", 443);
	split_is(":8001", "", 8001);
	split_is("localhost:65535", "localhost", 65535);
	split_is("example.org:1", "example.org", 1);
	/* A listener may ask for any free port. */
	split_is("127.0.0.1:0", "127.0.0.1", 0);

	split_bad("", "expected HOST:PORT");
	split_bad("8000", "expected HOST:PORT");
	split_bad("localhost", "expected HOST:PORT");
	split_bad("0.0.0.0:", "no port");
	split_bad(":", "no port");
	split_bad("[::1]", "no port");
	split_bad("[::1]:", "no port");
	split_bad("0.0.0.0:65536", "port 65536 is out of range (0-65535)");
	split_bad("0.0.0.0:99999999999999999999", "invalid port");
	split_bad("0.0.0.0:-1", "invalid port '-1'");
	split_bad("0.0.0.0:80x", "invalid port '80x'");
	split_bad("0.0.0.0:0x50", "invalid port");
	split_bad("0.0.0.0:8.0", "invalid port");
	split_bad("::1:8000", "brackets");
	split_bad("[::1]x:80", "after ']'");
	split_bad("[::1:80", "'[' without ']'");
	split_bad("[nope]:80", "not an IPv6 address");
	split_bad("[fe80::1%]:80", "zone");
	split_bad("my host:80", "invalid host");
	split_bad("user@host:80", "invalid host");

	/* The host must fit the caller's buffer. */
	char longhost[300], h[16] = "untouched", errmsg[ERRMSG_SIZE];
	int p = -7;
	memset(longhost, 'h', 280);
	strcpy(longhost + 280, ":80");
	split_bad(longhost, "longer than 255 characters");
	ASSERT_EQ(url_split_host_port("abcdefghijklmnop:1", h, sizeof h, &p, errmsg), ERR_INVAL);
	ASSERT_NOT_NULL(strstr(errmsg, "longer than 15 characters"));
	ASSERT_STR_EQ(h, "untouched");
	ASSERT_OK(url_split_host_port("abcdefghijklmno:1", h, sizeof h, &p, errmsg));
	ASSERT_STR_EQ(h, "abcdefghijklmno");
	ASSERT_EQ(p, 1);
}

int
main(int argc, char **argv)
{
	static const struct test_entry tests[] = {
		TEST_ENTRY(parse_schemes_and_ports),
		TEST_ENTRY(parse_ipv6),
		TEST_ENTRY(parse_path_query_fragment),
		TEST_ENTRY(parse_refusals),
		TEST_ENTRY(parse_lengths),
		TEST_ENTRY(host_header_and_host_port),
		TEST_ENTRY(request_path),
		TEST_ENTRY(append_param),
		TEST_ENTRY(split_host_port),
	};

	return test_run(tests, argc, argv);
}
