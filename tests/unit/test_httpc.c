/*
 * Unit tests of the tools' HTTP client (tools/lib/httpc.c) against a real
 * TCP server on loopback: a thread that answers each request as the test
 * says (keep-alive, close, no length, malformed, early, silent). They check
 * what the client sent, what it handed over, when it connected again, and
 * why it failed.
 */
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "assert.h"
#include "err.h"
#include "httpc.h"
#include "resolve.h"
#include "url.h"

/* How the server answers each request. */
enum mode {
	KEEP,        /* 200 with a Content-Length, connection kept */
	CLOSE,       /* 200 with Connection: close, then close */
	IDLE_CLOSE,  /* 200 kept alive, then close while the client is idle */
	UNTIL_CLOSE, /* 200 without a Content-Length: the body ends at close */
	CHUNKED,     /* Transfer-Encoding: chunked */
	GARBAGE,     /* not HTTP */
	TOO_LONG,    /* more bytes than the Content-Length says */
	BAD_LENGTH,  /* a Content-Length that is not a number */
	NO_ANSWER,   /* read the request, close */
	EARLY_413,   /* answer 413 after the head, close without reading the body */
	SILENT,      /* read the request, say nothing until the client goes */
};

struct server {
	int fd, port;
	enum mode mode;
	pthread_t thread;
	int accepted, requests;
	char request[4096]; /* the start of the last request */
};

/* Read until "\r\n\r\n" into buf; returns the head's length, or -1 at EOF. */
static ssize_t
read_head(int fd, char *buf, size_t size, size_t *have)
{
	for (;;) {
		char *end = *have >= 4 ? memmem(buf, *have, "\r\n\r\n", 4) : NULL;
		ssize_t n;
		if (end)
			return end - buf + 4;
		if (*have == size)
			return -1;
		n = recv(fd, buf + *have, size - *have, 0);
		if (n <= 0)
			return -1;
		*have += (size_t)n;
	}
}

/* Write all of s. */
static void
send_text(int fd, const char *s)
{
	size_t len = strlen(s), off = 0;

	while (off < len) {
		ssize_t n = send(fd, s + off, len - off, MSG_NOSIGNAL);
		if (n <= 0)
			return;
		off += (size_t)n;
	}
}

/* Serve one connection as s->mode says. */
static void
serve_connection(struct server *s, int fd)
{
	static char buf[1 << 16];
	size_t have = 0;

	for (;;) {
		ssize_t head = read_head(fd, buf, sizeof buf, &have);
		size_t body = 0, need;
		const char *cl;
		if (head < 0)
			return;
		cl = memmem(buf, (size_t)head, "Content-Length: ", 16);
		if (cl)
			body = strtoul(cl + 16, NULL, 10);
		s->requests++;
		memcpy(s->request, buf,
		       have < sizeof s->request - 1 ? have : sizeof s->request - 1);
		s->request[have < sizeof s->request - 1 ? have : sizeof s->request - 1] = '\0';
		if (s->mode == EARLY_413) {
			send_text(fd, "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 3\r\n"
				      "Connection: close\r\n\r\nbig");
			return;
		}
		/* The body: what is in buf already, then the rest. */
		need = (size_t)head + body;
		while (have < need) {
			size_t want =
				need - have > sizeof buf - have ? sizeof buf - have : need - have;
			ssize_t n = recv(fd, buf + have, want, 0);
			if (n <= 0)
				return;
			have += (size_t)n;
			if (have == sizeof buf) { /* keep the head, drop body bytes read */
				need -= have - (size_t)head;
				have = (size_t)head;
			}
		}
		memmove(buf, buf + need, have - need);
		have -= need;
		switch (s->mode) {
		case KEEP:
		case IDLE_CLOSE:
			send_text(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
			if (s->mode == IDLE_CLOSE)
				return;
			break;
		case CLOSE:
			send_text(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n"
				      "Content-Length: 2\r\n\r\nok");
			return;
		case UNTIL_CLOSE:
			send_text(fd,
				  "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nto the end");
			return;
		case CHUNKED:
			send_text(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				      "2\r\nok\r\n0\r\n\r\n");
			return;
		case GARBAGE:
			send_text(fd, "HELLO THERE\r\n\r\n");
			return;
		case TOO_LONG:
			send_text(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokay");
			return;
		case BAD_LENGTH:
			send_text(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nok");
			return;
		case NO_ANSWER:
			return;
		case SILENT:
			while (recv(fd, buf, sizeof buf, 0) > 0)
				;
			return;
		case EARLY_413:
			return;
		}
	}
}

/* The server thread: accept and serve until the listening socket is shut down. */
static void *
serve(void *arg)
{
	struct server *s = arg;

	for (;;) {
		int fd = accept(s->fd, NULL, NULL);
		if (fd < 0)
			return NULL;
		s->accepted++;
		serve_connection(s, fd);
		close(fd);
	}
}

/* A free port on 127.0.0.1 with nothing listening on it. */
static int
closed_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ASSERT_GE(fd, 0);
	ASSERT_OK(bind(fd, (struct sockaddr *)&a, sizeof a));
	ASSERT_OK(getsockname(fd, (struct sockaddr *)&a, &len));
	close(fd);
	return ntohs(a.sin_port);
}

static void
server_start(struct server *s, enum mode mode)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;

	memset(s, 0, sizeof *s);
	s->mode = mode;
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_GE(s->fd, 0);
	ASSERT_OK(bind(s->fd, (struct sockaddr *)&a, sizeof a));
	ASSERT_OK(listen(s->fd, 8));
	ASSERT_OK(getsockname(s->fd, (struct sockaddr *)&a, &len));
	s->port = ntohs(a.sin_port);
	ASSERT_OK(pthread_create(&s->thread, NULL, serve, s));
}

/* Stop accepting and wait for the thread: its counts are then safe to read. */
static void
server_stop(struct server *s)
{
	shutdown(s->fd, SHUT_RDWR);
	ASSERT_OK(pthread_join(s->thread, NULL));
	close(s->fd);
}

/* A client of http://127.0.0.1:port/ on base. */
static httpc *
client(struct event_base *base, int port)
{
	char text[64], errmsg[ERRMSG_SIZE];
	struct url u;
	httpc *c;

	snprintf(text, sizeof text, "http://127.0.0.1:%d/", port);
	ASSERT_OK(url_parse(text, URL_HTTP, "/", &u, errmsg));
	c = httpc_new(base, &u, NULL, NULL, NULL);
	ASSERT_NOT_NULL(c);
	return c;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

TEST(keep_alive)
{
	struct event_base *base = event_base_new();
	struct httpc_answer a;
	struct server s;
	char expect[256];
	httpc *c;

	server_start(&s, KEEP);
	c = client(base, s.port);
	for (int i = 0; i < 3; i++) {
		ASSERT_OK(httpc_call(c, "POST", "/api/events", "X-Test: yes\r\n", "{\"a\":1}", 7,
				     &a));
		ASSERT_EQ(a.status, 200);
		ASSERT_BUF_STR(a.body, a.len, "hello");
		ASSERT_EQ(a.body[a.len], '\0');
		httpc_answer_free(&a);
	}
	httpc_free(c);
	event_base_free(base);
	server_stop(&s);
	ASSERT_EQ(s.accepted, 1);
	ASSERT_EQ(s.requests, 3);
	snprintf(expect, sizeof expect,
		 "POST /api/events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Test: yes\r\n"
		 "Content-Length: 7\r\n\r\n{\"a\":1}",
		 s.port);
	ASSERT_STR_EQ(s.request, expect);
}

TEST(connection_close_and_idle_close)
{
	enum mode modes[] = {CLOSE, IDLE_CLOSE};

	for (size_t m = 0; m < 2; m++) {
		struct event_base *base = event_base_new();
		struct httpc_answer a;
		struct server s;
		httpc *c;

		server_start(&s, modes[m]);
		c = client(base, s.port);
		for (int i = 0; i < 3; i++) {
			ASSERT_OK(httpc_call(c, "GET", "/", NULL, NULL, 0, &a));
			ASSERT_EQ(a.status, 200);
			httpc_answer_free(&a);
			/* Let the server's close arrive while the client is idle. */
			sleep_ms(50);
		}
		httpc_free(c);
		event_base_free(base);
		server_stop(&s);
		ASSERT_EQ(s.accepted, 3);
		ASSERT_EQ(s.requests, 3);
	}
}

TEST(body_until_close)
{
	struct event_base *base = event_base_new();
	struct httpc_answer a;
	struct server s;
	httpc *c;

	server_start(&s, UNTIL_CLOSE);
	c = client(base, s.port);
	ASSERT_OK(httpc_call(c, "GET", "/", NULL, NULL, 0, &a));
	ASSERT_EQ(a.status, 200);
	ASSERT_BUF_STR(a.body, a.len, "to the end");
	httpc_answer_free(&a);
	httpc_free(c);
	event_base_free(base);
	server_stop(&s);
}

/* A request to a server in mode must fail with ERR_IO and a message containing needle. */
static void
fails_with(enum mode mode, const char *needle, int maybe_sent)
{
	struct event_base *base = event_base_new();
	struct httpc_answer a = {42, NULL, 0};
	struct server s;
	httpc *c;

	server_start(&s, mode);
	c = client(base, s.port);
	httpc_set_timeout(c, 1);
	ASSERT_EQ(httpc_call(c, "POST", "/api/events", NULL, "x", 1, &a), ERR_IO);
	if (!strstr(httpc_errmsg(c), needle))
		fprintf(stderr, "message '%s' does not say '%s'\n", httpc_errmsg(c), needle);
	ASSERT_NOT_NULL(strstr(httpc_errmsg(c), needle));
	ASSERT_EQ(httpc_maybe_sent(c), maybe_sent);
	ASSERT_EQ(a.status, 42);
	ASSERT_NULL(a.body);
	ASSERT_EQ(httpc_busy(c), 0);
	httpc_free(c);
	event_base_free(base);
	server_stop(&s);
}

TEST(malformed_answers)
{
	fails_with(CHUNKED, "answered with a transfer encoding", 1);
	fails_with(GARBAGE, "answered with something that is not HTTP/1", 1);
	fails_with(TOO_LONG, "sent more than its Content-Length", 1);
	fails_with(BAD_LENGTH, "bad or too large Content-Length", 1);
	fails_with(NO_ANSWER, "no answer from 127.0.0.1:", 1);
	fails_with(SILENT, "timed out", 1);
}

TEST(no_server)
{
	struct event_base *base = event_base_new();
	struct httpc_answer a;
	char expect[64];
	int port = closed_port();
	httpc *c = client(base, port);

	snprintf(expect, sizeof expect, "cannot connect to 127.0.0.1:%d: ", port);
	ASSERT_EQ(httpc_call(c, "POST", "/", NULL, "x", 1, &a), ERR_IO);
	ASSERT_EQ(strncmp(httpc_errmsg(c), expect, strlen(expect)), 0);
	ASSERT_EQ(httpc_maybe_sent(c), 0);
	httpc_free(c);
	event_base_free(base);
}

TEST(addresses_in_turn)
{
	struct event_base *base = event_base_new();
	struct resolve_list list, second;
	struct httpc_answer a;
	char errmsg[ERRMSG_SIZE];
	struct server s;
	struct url u;
	httpc *c;

	/* The first address refuses, the second answers. */
	server_start(&s, KEEP);
	ASSERT_OK(url_parse("http://localhost/", URL_HTTP, "/", &u, errmsg));
	ASSERT_OK(resolve_host("127.0.0.1", closed_port(), 0, &list, errmsg));
	ASSERT_OK(resolve_host("127.0.0.1", s.port, 0, &second, errmsg));
	ASSERT_EQ(list.count, 1);
	list.addr[1] = second.addr[0];
	list.count = 2;
	c = httpc_new(base, &u, &list, NULL, NULL);
	ASSERT_NOT_NULL(c);
	ASSERT_OK(httpc_call(c, "GET", "/", NULL, NULL, 0, &a));
	ASSERT_EQ(a.status, 200);
	httpc_answer_free(&a);
	httpc_free(c);
	event_base_free(base);
	server_stop(&s);
	/* The Host header is the URL's, whatever address was used. */
	ASSERT_NOT_NULL(strstr(s.request, "\r\nHost: localhost\r\n"));
}

TEST(early_answer_while_sending)
{
	struct event_base *base = event_base_new();
	size_t len = (size_t)32 << 20;
	char *body = malloc(len);
	struct httpc_answer a;
	struct server s;
	httpc *c;

	ASSERT_NOT_NULL(body);
	memset(body, 'x', len);
	server_start(&s, EARLY_413);
	c = client(base, s.port);
	httpc_set_timeout(c, 10);
	ASSERT_OK(httpc_call(c, "POST", "/api/events", NULL, body, len, &a));
	ASSERT_EQ(a.status, 413);
	ASSERT_BUF_STR(a.body, a.len, "big");
	httpc_answer_free(&a);
	httpc_free(c);
	event_base_free(base);
	server_stop(&s);
	free(body);
}

struct done_log {
	int calls, status;
	char body[16];
};

/* A done callback that records what it was given. */
static void
record(httpc *c, int status, const char *body, size_t len, void *arg)
{
	struct done_log *d = arg;

	(void)c;
	d->calls++;
	d->status = status;
	snprintf(d->body, sizeof d->body, "%.*s", (int)len, body ? body : "");
}

TEST(asynchronous)
{
	struct event_base *base = event_base_new();
	struct done_log d = {0, 0, ""};
	char errmsg[ERRMSG_SIZE], text[64];
	struct server s;
	struct url u;
	httpc *c;

	server_start(&s, KEEP);
	snprintf(text, sizeof text, "http://127.0.0.1:%d", s.port);
	ASSERT_OK(url_parse(text, URL_HTTP, "/", &u, errmsg));
	c = httpc_new(base, &u, NULL, record, &d);
	ASSERT_NOT_NULL(c);
	ASSERT_OK(httpc_request(c, "GET", "/a", NULL, NULL, 0));
	ASSERT_EQ(httpc_busy(c), 1);
	ASSERT_EQ(httpc_request(c, "GET", "/b", NULL, NULL, 0), ERR_BUSY);
	while (!d.calls)
		ASSERT_OK(event_base_loop(base, EVLOOP_ONCE));
	ASSERT_EQ(d.calls, 1);
	ASSERT_EQ(d.status, 200);
	ASSERT_STR_EQ(d.body, "hello");
	ASSERT_EQ(httpc_busy(c), 0);
	httpc_free(c);
	event_base_free(base);
	server_stop(&s);
	ASSERT_EQ(s.requests, 1);
}

int
main(int argc, char **argv)
{
	static const struct test_entry tests[] = {
		TEST_ENTRY(keep_alive),
		TEST_ENTRY(connection_close_and_idle_close),
		TEST_ENTRY(body_until_close),
		TEST_ENTRY(malformed_answers),
		TEST_ENTRY(no_server),
		TEST_ENTRY(addresses_in_turn),
		TEST_ENTRY(early_answer_while_sending),
		TEST_ENTRY(asynchronous),
	};

	return test_run(tests, argc, argv);
}
