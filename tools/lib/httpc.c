/*
 * The HTTP client of httpc.h.
 *
 * The read event stays armed for as long as the socket is open, so a
 * server that closes an idle keep-alive connection is noticed when the loop
 * next runs, and the next request reconnects instead of writing into a
 * dead socket; httpc_call() gives the loop that turn before it sends.
 * Connecting is non-blocking and tries the addresses in turn; a request
 * waits for its connection, and then for the socket to take what the
 * kernel would not take at once. The answer's head is parsed once, when it
 * is whole, and its body is handed over in place.
 *
 * When sending fails, the server may have answered already (it refuses an
 * over-large body before reading it): that answer is read if it is there,
 * and only its absence makes the request fail.
 */
#include "httpc.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"

/* The largest status line and headers, and the largest body, taken. */
#define HEAD_MAX   ((size_t)64 << 10)
#define BODY_MAX   ((size_t)16 << 20)
#define READ_CHUNK ((size_t)64 << 10)

struct httpc {
	struct event_base *base;
	httpc_done_fn done;
	void *arg;

	/* Where to: the host for the resolver, the Host header, host:port for messages. */
	char host[URL_HOST_MAX + 1];
	int port;
	char host_header[URL_HOST_PORT_SIZE];
	char where[URL_HOST_PORT_SIZE];
	struct resolve_list addrs;
	int resolve_each; /* resolve host each time a connection is opened */
	size_t addr_at;   /* the address the socket is connected to */

	int fd; /* -1 when not connected */
	struct event *rev, *wev, *timer;
	int timeout_s;
	unsigned busy : 1;
	unsigned connecting : 1;  /* connect() is in progress */
	unsigned maybe_sent : 1;  /* some of the request was sent */
	unsigned send_failed : 1; /* ... and then sending failed with send_errno */
	int send_errno;

	/* The request: its head, and the body the caller keeps. */
	struct buf head;
	struct iovec iov[2];
	int iov_at, iov_count;

	/* What the server sent, and its head once that is whole. */
	char *in;
	size_t in_len, in_cap;
	unsigned has_head : 1;
	unsigned keep : 1;       /* the connection may take the next request */
	unsigned has_length : 1; /* else the body ends when the server closes */
	size_t head_len, body_len;
	int status;

	int error; /* the code of the last failure */
	char errmsg[ERRMSG_SIZE];
};

static int set_err(httpc *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Record why the request failed; returns code. */
static int
set_err(httpc *c, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
	va_end(ap);
	c->error = code;
	return code;
}

/* Close the socket and drop what was read from it. */
static void
disconnect(httpc *c)
{
	if (c->fd < 0)
		return;
	event_free(c->rev);
	event_free(c->wev);
	c->rev = c->wev = NULL;
	close(c->fd);
	c->fd = -1;
	c->connecting = 0;
	c->in_len = 0;
	c->has_head = 0;
}

/* The request failed (the reason is set): drop the connection, tell the owner. */
static void
fail(httpc *c)
{
	int was_busy = c->busy;

	disconnect(c);
	c->busy = 0;
	evtimer_del(c->timer);
	if (was_busy)
		c->done(c, -1, NULL, 0, c->arg);
}

/* The request made progress: its timeout starts again. */
static void
progress(httpc *c)
{
	struct timeval tv = {c->timeout_s, 0};

	if (c->timeout_s > 0 && c->busy)
		evtimer_add(c->timer, &tv);
}

/* Open a socket to addrs[i]: 0 connected, 1 in progress, -1 with errno set. */
static int
open_socket(httpc *c, size_t i)
{
	const struct resolve_addr *a = &c->addrs.addr[i];
	int one = 1, fd, saved;

	fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	/* Requests are written whole, so Nagle would only add delay. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one))
		goto fail;
	if (connect(fd, (const struct sockaddr *)&a->sa, a->len) == 0) {
		c->fd = fd;
		return 0;
	}
	if (errno == EINPROGRESS) {
		c->fd = fd;
		return 1;
	}
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_write(evutil_socket_t fd, short what, void *arg);

/*
 * Connect to the first address from addrs[start] on that accepts or is
 * still connecting; last_errno is why the one before failed, if one did.
 */
static int
connect_from(httpc *c, size_t start, int last_errno)
{
	for (size_t i = start; i < c->addrs.count; i++) {
		int rc = open_socket(c, i);
		if (rc < 0) {
			last_errno = errno;
			continue;
		}
		c->addr_at = i;
		c->connecting = rc == 1;
		c->rev = event_new(c->base, c->fd, EV_READ | EV_PERSIST, on_read, c);
		c->wev = event_new(c->base, c->fd, EV_WRITE, on_write, c);
		if (!c->rev || !c->wev || event_add(c->rev, NULL) ||
		    (c->connecting && event_add(c->wev, NULL))) {
			if (c->rev)
				event_free(c->rev);
			if (c->wev)
				event_free(c->wev);
			c->rev = c->wev = NULL;
			close(c->fd);
			c->fd = -1;
			return set_err(c, ERR_SYS, "cannot create the connection's events");
		}
		return 0;
	}
	return set_err(c, ERR_IO, "cannot connect to %s: %s", c->where,
		       last_errno ? strerror(last_errno) : "no address");
}

/* Resolve if that is wanted, then start connecting. */
static int
open_connection(httpc *c)
{
	if (c->resolve_each) {
		int rc = resolve_host(c->host, c->port, 0, &c->addrs, c->errmsg);
		if (rc) {
			c->error = rc;
			return rc;
		}
	}
	return connect_from(c, 0, 0);
}

/* Write what the kernel takes of the request; wait for the write event for the rest. */
static int
flush(httpc *c)
{
	while (c->iov_at < c->iov_count) {
		struct msghdr msg = {.msg_iov = c->iov + c->iov_at,
				     .msg_iovlen = (size_t)(c->iov_count - c->iov_at)};
		ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
		if (n < 0) {
			struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return event_add(c->wev, NULL)
					       ? set_err(c, ERR_SYS, "cannot arm an event")
					       : 0;
			/* Stop sending; if the server said something, read it. */
			c->send_failed = 1;
			c->send_errno = errno;
			c->iov_at = c->iov_count;
			if (poll(&pfd, 1, 0) == 1)
				return 0;
			return set_err(c, ERR_IO, "cannot send to %s: %s", c->where,
				       strerror(c->send_errno));
		}
		if (n > 0) {
			c->maybe_sent = 1;
			progress(c);
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

/* The socket is connected, or takes more: send the rest of the request. */
static void
on_write(evutil_socket_t fd, short what, void *arg)
{
	httpc *c = arg;
	int err = 0;
	socklen_t len = sizeof err;

	(void)fd;
	(void)what;
	if (c->connecting) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len))
			err = errno;
		if (err) {
			size_t next = c->addr_at + 1;
			disconnect(c);
			if (connect_from(c, next, err))
				fail(c);
			return;
		}
		c->connecting = 0;
		progress(c);
	}
	if (flush(c))
		fail(c);
}

/* The value of header name in the head [p, end), or NULL. */
static const char *
find_header(const char *p, const char *end, const char *name, size_t *len)
{
	size_t nlen = strlen(name);
	const char *eol = memchr(p, '\n', (size_t)(end - p));

	/* Header lines follow the status line. */
	for (p = eol ? eol + 1 : end; p < end; p = eol + 1) {
		const char *v;
		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		if ((size_t)(eol - p) <= nlen || strncasecmp(p, name, nlen) || p[nlen] != ':')
			continue;
		v = p + nlen + 1;
		while (v < eol && (*v == ' ' || *v == '\t'))
			v++;
		*len = (size_t)(eol - v);
		while (*len && (v[*len - 1] == '\r' || v[*len - 1] == ' ' || v[*len - 1] == '\t'))
			(*len)--;
		return v;
	}
	return NULL;
}

/* Parse the status line and headers in in[0..head_len). Returns 0, or -1 with the reason set. */
static int
parse_head(httpc *c)
{
	const char *in = c->in, *end = c->in + c->head_len, *v;
	size_t vlen;

	if (c->head_len < 14 || memcmp(in, "HTTP/1.", 7) || in[7] < '0' || in[7] > '9' ||
	    in[8] != ' ' || in[9] < '1' || in[9] > '9' || in[10] < '0' || in[10] > '9' ||
	    in[11] < '0' || in[11] > '9' || (in[12] != ' ' && in[12] != '\r')) {
		set_err(c, ERR_IO, "%s answered with something that is not HTTP/1", c->where);
		return -1;
	}
	c->status = (in[9] - '0') * 100 + (in[10] - '0') * 10 + (in[11] - '0');
	c->keep = in[7] != '0';
	if ((v = find_header(in, end, "connection", &vlen)) && vlen == 5 &&
	    !strncasecmp(v, "close", 5))
		c->keep = 0;
	if (find_header(in, end, "transfer-encoding", &vlen)) {
		set_err(c, ERR_IO,
			"%s answered with a transfer encoding, which this client does not "
			"support",
			c->where);
		return -1;
	}
	c->has_length = 1;
	c->body_len = 0;
	if ((v = find_header(in, end, "content-length", &vlen))) {
		size_t digits = 0;
		while (digits < vlen && v[digits] >= '0' && v[digits] <= '9' &&
		       c->body_len <= BODY_MAX)
			c->body_len = c->body_len * 10 + (size_t)(v[digits++] - '0');
		if (digits == 0 || digits < vlen || c->body_len > BODY_MAX) {
			set_err(c, ERR_IO, "%s answered with a bad or too large Content-Length",
				c->where);
			return -1;
		}
	} else if (c->status >= 200 && c->status != 204 && c->status != 304) {
		c->has_length = 0; /* the body ends when the server closes */
		c->keep = 0;
	}
	return 0;
}

/* The whole answer is in: hand it over. */
static void
deliver(httpc *c)
{
	const char *body = c->in + c->head_len;
	size_t len = c->in_len - c->head_len;

	c->in[c->in_len] = '\0';
	c->busy = 0;
	c->in_len = 0;
	c->has_head = 0;
	evtimer_del(c->timer);
	/* c->in is written by on_read() only, so the body stays valid during done.
	 * An answer that came before the whole request was sent ends the connection. */
	if (!c->keep || c->iov_at < c->iov_count)
		disconnect(c);
	c->done(c, c->status, body, len, c->arg);
}

/* Hand over the answer if all of it is in. Returns 0, or -1 on a malformed one. */
static int
try_answer(httpc *c)
{
	if (!c->has_head) {
		const char *end = c->in_len >= 4 ? memmem(c->in, c->in_len, "\r\n\r\n", 4) : NULL;
		if (!end) {
			if (c->in_len <= HEAD_MAX)
				return 0;
			set_err(c, ERR_IO, "%s answered with a head of more than %zu bytes",
				c->where, HEAD_MAX);
			return -1;
		}
		c->head_len = (size_t)(end - c->in) + 4;
		if (parse_head(c))
			return -1;
		c->has_head = 1;
	}
	if (!c->has_length) {
		if (c->in_len - c->head_len <= BODY_MAX)
			return 0;
		set_err(c, ERR_IO, "%s answered with more than %zu bytes", c->where, BODY_MAX);
		return -1;
	}
	if (c->in_len < c->head_len + c->body_len)
		return 0;
	if (c->in_len > c->head_len + c->body_len) {
		set_err(c, ERR_IO, "%s sent more than its Content-Length", c->where);
		return -1;
	}
	deliver(c);
	return 0;
}

/* The connection ended (n == 0) or failed (n < 0, errno) before the answer was whole. */
static void
ended(httpc *c, ssize_t n)
{
	const char *why = n == 0 ? "the connection was closed" : strerror(errno);

	if (!c->busy) { /* an idle connection the server closed */
		disconnect(c);
		return;
	}
	if (n == 0 && c->has_head && !c->has_length) {
		deliver(c);
		return;
	}
	if (c->send_failed)
		set_err(c, ERR_IO, "cannot send to %s: %s", c->where, strerror(c->send_errno));
	else
		set_err(c, ERR_IO, "%s answer from %s: %s", c->in_len ? "incomplete" : "no",
			c->where, why);
	fail(c);
}

/* The socket is readable: take what came, hand over a whole answer. */
static void
on_read(evutil_socket_t fd, short what, void *arg)
{
	httpc *c = arg;
	ssize_t n;

	(void)what;
	if (c->connecting) { /* a failed connect shows as readable too */
		on_write(fd, EV_WRITE, c);
		return;
	}
	if (c->in_cap - c->in_len < READ_CHUNK / 4) {
		size_t cap = c->in_cap ? c->in_cap * 2 : READ_CHUNK;
		if (cap > HEAD_MAX + BODY_MAX + 1)
			cap = HEAD_MAX + BODY_MAX + 1;
		if (cap > c->in_cap) {
			char *bigger = realloc(c->in, cap);
			if (!bigger) {
				set_err(c, ERR_NOMEM, "out of memory");
				fail(c);
				return;
			}
			c->in = bigger;
			c->in_cap = cap;
		}
		if (c->in_cap - c->in_len <= 1) {
			set_err(c, ERR_IO, "%s answered with more than %zu bytes", c->where,
				BODY_MAX);
			fail(c);
			return;
		}
	}
	n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len - 1, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		ended(c, n);
		return;
	}
	if (!c->busy) {
		/* Nothing was asked: this connection is out of step. */
		disconnect(c);
		return;
	}
	c->in_len += (size_t)n;
	progress(c);
	if (try_answer(c))
		fail(c);
}

/* No progress for timeout_s: the request fails. */
static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	httpc *c = arg;

	(void)fd;
	(void)what;
	if (!c->busy)
		return;
	if (c->connecting)
		set_err(c, ERR_IO, "cannot connect to %s: timed out", c->where);
	else if (c->iov_at < c->iov_count)
		set_err(c, ERR_IO, "cannot send to %s: timed out", c->where);
	else
		set_err(c, ERR_IO, "%s answer from %s: timed out", c->in_len ? "incomplete" : "no",
			c->where);
	fail(c);
}

httpc *
httpc_new(struct event_base *base, const struct url *u, const struct resolve_list *addrs,
	  httpc_done_fn done, void *arg)
{
	httpc *c = calloc(1, sizeof *c);

	if (!c)
		return NULL;
	c->base = base;
	c->done = done;
	c->arg = arg;
	c->fd = -1;
	memcpy(c->host, u->host, sizeof c->host);
	c->port = u->port;
	if (url_host_header(u, c->host_header, sizeof c->host_header) ||
	    url_host_port(u, c->where, sizeof c->where))
		goto fail; /* cannot be: both fit any host a URL has */
	if (addrs)
		c->addrs = *addrs;
	else
		c->resolve_each = 1;
	c->timer = evtimer_new(base, on_timeout, c);
	if (!c->timer)
		goto fail;
	return c;
fail:
	free(c);
	return NULL;
}

void
httpc_free(httpc *c)
{
	if (!c)
		return;
	disconnect(c);
	event_free(c->timer);
	buf_free(&c->head);
	free(c->in);
	free(c);
}

void
httpc_set_timeout(httpc *c, int seconds)
{
	c->timeout_s = seconds > 0 ? seconds : 0;
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
httpc_maybe_sent(const httpc *c)
{
	return c->maybe_sent;
}

int
httpc_request(httpc *c, const char *method, const char *path, const char *headers, const char *body,
	      size_t len)
{
	int rc;

	if (c->busy)
		return set_err(c, ERR_BUSY, "a request to %s is in flight", c->where);
	c->maybe_sent = 0;
	c->send_failed = 0;
	c->head.len = 0;
	if (buf_printf(&c->head, "%s %s HTTP/1.1\r\nHost: %s\r\n%sContent-Length: %zu\r\n\r\n",
		       method, path, c->host_header, headers ? headers : "", len))
		return set_err(c, ERR_NOMEM, "out of memory");
	c->iov[0].iov_base = c->head.data;
	c->iov[0].iov_len = c->head.len;
	c->iov[1].iov_base = (void *)body;
	c->iov[1].iov_len = len;
	c->iov_at = 0;
	c->iov_count = len ? 2 : 1;
	if (c->fd < 0 && (rc = open_connection(c)))
		return rc;
	c->busy = 1;
	progress(c);
	if (!c->connecting && (rc = flush(c))) {
		/* Not sent: say so here, without calling done. */
		c->busy = 0;
		evtimer_del(c->timer);
		disconnect(c);
		return rc;
	}
	return 0;
}

/* What httpc_call() waits for. */
struct call {
	int finished;
	int rc;
	struct httpc_answer answer;
};

/* The done callback of httpc_call(): keep a copy of the answer. */
static void
call_done(httpc *c, int status, const char *body, size_t len, void *arg)
{
	struct call *k = arg;

	k->finished = 1;
	if (status < 0) {
		k->rc = c->error ? c->error : ERR_IO;
		return;
	}
	k->answer.body = malloc(len + 1);
	if (!k->answer.body) {
		k->rc = set_err(c, ERR_NOMEM, "out of memory");
		return;
	}
	memcpy(k->answer.body, body, len + 1);
	k->answer.status = status;
	k->answer.len = len;
}

int
httpc_call(httpc *c, const char *method, const char *path, const char *headers, const char *body,
	   size_t len, struct httpc_answer *out)
{
	httpc_done_fn done = c->done;
	void *arg = c->arg;
	struct call k;
	int rc;

	memset(&k, 0, sizeof k);
	/* A kept connection that the server closed meanwhile is readable:
	 * one turn of the loop lets on_read() drop it before we send. */
	if (c->fd >= 0 && !c->busy && event_base_loop(c->base, EVLOOP_NONBLOCK) < 0)
		return set_err(c, ERR_SYS, "the event loop failed");
	c->done = call_done;
	c->arg = &k;
	rc = httpc_request(c, method, path, headers, body, len);
	while (!rc && !k.finished) {
		if (event_base_loop(c->base, EVLOOP_ONCE) != 0) {
			rc = set_err(c, ERR_SYS, "the event loop failed");
			c->busy = 0;
			evtimer_del(c->timer);
			disconnect(c);
		}
	}
	c->done = done;
	c->arg = arg;
	if (!rc)
		rc = k.rc;
	if (rc) {
		free(k.answer.body);
		return rc;
	}
	*out = k.answer;
	return 0;
}

void
httpc_answer_free(struct httpc_answer *a)
{
	free(a->body);
	a->body = NULL;
	a->len = 0;
}
