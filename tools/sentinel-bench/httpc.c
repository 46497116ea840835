/*
 * The HTTP client of httpc.h.
 *
 * The read event stays armed for as long as the socket is open, so a server
 * that closes an idle keep-alive connection is noticed at once and the next
 * request reconnects instead of writing into a dead socket. Writes go out
 * straight from httpc_request(); only what the kernel does not take waits
 * for the write event.
 */
#include "httpc.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "err.h"

/* The largest answer taken (GET /api/stats is the largest we ask for). */
#define ANSWER_MAX (4u * 1024 * 1024)
#define READ_CHUNK 65536

struct httpc {
	struct event_base *base;
	const struct url *u;
	httpc_done_fn done;
	void *arg;
	int fd;
	struct event *rev, *wev;
	int busy;
	char head[1536];
	struct iovec iov[2];
	int iov_at, iov_count;
	char *in; /* what the server sent, not yet consumed */
	size_t in_len, in_cap;
	char errmsg[256];
};

static int set_err(httpc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Record why the request failed; returns ERR_IO. */
static int
set_err(httpc *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
	va_end(ap);
	return ERR_IO;
}

/* Close the socket and drop what was read from it. */
static void
disconnect(httpc *c)
{
	if (c->fd < 0)
		return;
	event_del(c->rev);
	event_del(c->wev);
	event_free(c->rev);
	event_free(c->wev);
	c->rev = c->wev = NULL;
	close(c->fd);
	c->fd = -1;
	c->in_len = 0;
}

/* The request failed: drop the connection and tell the owner. */
static void
fail(httpc *c)
{
	int was_busy = c->busy;

	disconnect(c);
	c->busy = 0;
	if (was_busy)
		c->done(c, -1, NULL, 0, c->arg);
}

/* The value of header name in the head [p, end), or NULL. */
static const char *
find_header(const char *p, const char *end, const char *name, size_t *len)
{
	size_t nlen = strlen(name);

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *stop = eol ? eol : end;
		if ((size_t)(stop - p) > nlen && !strncasecmp(p, name, nlen) && p[nlen] == ':') {
			const char *v = p + nlen + 1;
			while (v < stop && (*v == ' ' || *v == '\t'))
				v++;
			*len = (size_t)(stop - v);
			while (*len && (v[*len - 1] == '\r' || v[*len - 1] == ' '))
				(*len)--;
			return v;
		}
		p = stop + 1;
	}
	return NULL;
}

/*
 * Hand over the answer if all of it is in: returns 1 when one was handed
 * over, 0 when more is needed, -1 on a malformed answer.
 */
static int
try_answer(httpc *c)
{
	const char *head_end, *v;
	size_t head_len, body_len, vlen;
	int status, keep = 1;

	head_end = c->in_len >= 4 ? memmem(c->in, c->in_len, "\r\n\r\n", 4) : NULL;
	if (!head_end)
		return 0;
	head_len = (size_t)(head_end - c->in) + 4;
	if (c->in_len < 12 || strncmp(c->in, "HTTP/1.", 7) ||
	    sscanf(c->in + 9, "%3d", &status) != 1) {
		set_err(c, "the server's answer is not HTTP/1");
		return -1;
	}
	if (!(v = find_header(c->in, head_end + 2, "content-length", &vlen))) {
		set_err(c, "the server's answer has no Content-Length");
		return -1;
	}
	body_len = strtoul(v, NULL, 10);
	if (body_len > ANSWER_MAX) {
		set_err(c, "the server's answer is too large (%zu bytes)", body_len);
		return -1;
	}
	if ((v = find_header(c->in, head_end + 2, "connection", &vlen)) && vlen == 5 &&
	    !strncasecmp(v, "close", 5))
		keep = 0;
	if (c->in[7] == '0')
		keep = 0;
	if (c->in_len < head_len + body_len)
		return 0;
	if (c->in_len > head_len + body_len) {
		set_err(c, "the server sent more than its answer");
		return -1;
	}
	/* The answer stays in c->in during the call; the callback cannot read
	 * more into it, because reading happens only in on_read(). */
	c->busy = 0;
	c->in_len = 0;
	if (!keep) {
		char *body = malloc(body_len + 1);
		if (!body) {
			set_err(c, "out of memory");
			return -1;
		}
		memcpy(body, c->in + head_len, body_len);
		body[body_len] = '\0';
		disconnect(c);
		c->done(c, status, body, body_len, c->arg);
		free(body);
		return 1;
	}
	c->done(c, status, c->in + head_len, body_len, c->arg);
	return 1;
}

/* The socket is readable: take what came, hand over a whole answer. */
static void
on_read(evutil_socket_t fd, short what, void *arg)
{
	httpc *c = arg;
	ssize_t n;

	(void)fd;
	(void)what;
	if (c->in_cap - c->in_len < READ_CHUNK) {
		size_t cap = c->in_cap ? c->in_cap * 2 : 2 * READ_CHUNK;
		char *bigger;
		if (cap > ANSWER_MAX + 2 * READ_CHUNK) {
			set_err(c, "the server's answer is too large");
			fail(c);
			return;
		}
		bigger = realloc(c->in, cap);
		if (!bigger) {
			set_err(c, "out of memory");
			fail(c);
			return;
		}
		c->in = bigger;
		c->in_cap = cap;
	}
	n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len - 1, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		set_err(c, "the server closed the connection%s%s", n ? ": " : "",
			n ? strerror(errno) : "");
		fail(c);
		return;
	}
	if (!c->busy) {
		set_err(c, "the server sent data nobody asked for");
		fail(c);
		return;
	}
	c->in_len += (size_t)n;
	c->in[c->in_len] = '\0';
	if (try_answer(c) < 0)
		fail(c);
}

/* Write what the kernel takes; arm the write event for the rest. */
static int
flush(httpc *c)
{
	while (c->iov_at < c->iov_count) {
		struct msghdr msg = {.msg_iov = c->iov + c->iov_at,
				     .msg_iovlen = (size_t)(c->iov_count - c->iov_at)};
		ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return event_add(c->wev, NULL) ? set_err(c, "cannot arm an event")
							       : 0;
			return set_err(c, "cannot send: %s", strerror(errno));
		}
		while (c->iov_at < c->iov_count && (size_t)n >= c->iov[c->iov_at].iov_len) {
			n -= (ssize_t)c->iov[c->iov_at].iov_len;
			c->iov_at++;
		}
		if (c->iov_at < c->iov_count) {
			c->iov[c->iov_at].iov_base = (char *)c->iov[c->iov_at].iov_base + n;
			c->iov[c->iov_at].iov_len -= (size_t)n;
		}
	}
	return 0;
}

/* The socket takes more: send the rest of the request. */
static void
on_write(evutil_socket_t fd, short what, void *arg)
{
	httpc *c = arg;

	(void)fd;
	(void)what;
	if (flush(c))
		fail(c);
}

/* Open the connection and arm its read event. */
static int
connect_server(httpc *c)
{
	int one = 1, fd;

	fd = socket(c->u->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return set_err(c, "cannot create a socket: %s", strerror(errno));
	/* Loopback: connect() completes or fails at once. */
	if (connect(fd, (const struct sockaddr *)&c->u->addr, c->u->addrlen)) {
		set_err(c, "cannot connect to %s: %s", c->u->host_header, strerror(errno));
		close(fd);
		return ERR_IO;
	}
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)) {
		set_err(c, "cannot set up the socket: %s", strerror(errno));
		close(fd);
		return ERR_IO;
	}
	c->rev = event_new(c->base, fd, EV_READ | EV_PERSIST, on_read, c);
	c->wev = event_new(c->base, fd, EV_WRITE, on_write, c);
	c->fd = fd;
	if (!c->rev || !c->wev || event_add(c->rev, NULL)) {
		disconnect(c);
		return set_err(c, "cannot create events");
	}
	return 0;
}

httpc *
httpc_new(struct event_base *base, const struct url *u, httpc_done_fn done, void *arg)
{
	httpc *c = calloc(1, sizeof *c);

	if (!c)
		return NULL;
	c->base = base;
	c->u = u;
	c->done = done;
	c->arg = arg;
	c->fd = -1;
	return c;
}

void
httpc_free(httpc *c)
{
	if (!c)
		return;
	disconnect(c);
	free(c->in);
	free(c);
}

int
httpc_busy(const httpc *c)
{
	return c->busy;
}

const char *
httpc_errmsg(const httpc *c)
{
	return c->errmsg;
}

int
httpc_request(httpc *c, const char *method, const char *path, const char *content_type,
	      const char *body, size_t len)
{
	int n, rc;

	if (c->busy)
		return ERR_BUSY;
	if (c->fd < 0 && (rc = connect_server(c)))
		return rc;
	n = snprintf(c->head, sizeof c->head,
		     "%s %s HTTP/1.1\r\nHost: %s\r\n%s%s%sContent-Length: %zu\r\n\r\n", method,
		     path, c->u->host_header, content_type ? "Content-Type: " : "",
		     content_type ? content_type : "", content_type ? "\r\n" : "", len);
	if (n < 0 || (size_t)n >= sizeof c->head)
		return set_err(c, "the request head is too long");
	c->iov[0].iov_base = c->head;
	c->iov[0].iov_len = (size_t)n;
	c->iov[1].iov_base = (void *)body;
	c->iov[1].iov_len = len;
	c->iov_at = 0;
	c->iov_count = len ? 2 : 1;
	c->busy = 1;
	if ((rc = flush(c))) {
		/* Not sent: say so here, without calling done. */
		c->busy = 0;
		disconnect(c);
		return rc;
	}
	return 0;
}
