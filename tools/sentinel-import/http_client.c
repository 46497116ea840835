/*
 * The blocking HTTP/1.1 client of http_client.h.
 *
 * The connection is opened on demand and kept between requests. Before a
 * request on a kept connection we look whether the server closed it while
 * idle (it is then readable), and reconnect if so: a POST is not retried
 * once sent, so a request must not be sent into a connection that is known
 * to be gone. Socket timeouts bound every wait, so a server that stops
 * answering makes the request fail instead of hanging.
 */
#include "http_client.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "err.h"

#define HTTP_TIMEOUT_SEC 120
#define HTTP_HEAD_MAX    ((size_t)64 << 10)
#define HTTP_BODY_MAX    ((size_t)16 << 20)

struct http_client {
	char host[256]; /* as written in the URL, without brackets */
	char port[8];
	char host_header[300];
	int fd; /* -1 when not connected */
	int maybe_sent;
	char errmsg[512];
};

/* Record why the request failed; returns code. */
__attribute__((format(printf, 3, 4))) static int
set_err(http_client *c, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
	va_end(ap);
	return code;
}

http_client *
http_client_new(const char *url, char *errmsg, size_t errmsg_size)
{
	static const char scheme[] = "http://";
	const char *p = url, *host, *host_end, *port = "80";
	size_t host_len, port_len = 2;
	http_client *c;

	if (strncasecmp(p, scheme, sizeof scheme - 1) != 0) {
		snprintf(errmsg, errmsg_size, "'%s': expected http://HOST:PORT%s", url,
			 strncasecmp(p, "https://", 8) ? "" : " (https is not supported)");
		return NULL;
	}
	p += sizeof scheme - 1;
	if (*p == '[') { /* [v6]:port */
		host = p + 1;
		host_end = strchr(host, ']');
		if (!host_end)
			goto bad;
		p = host_end + 1;
	} else {
		host = p;
		p += strcspn(p, ":/");
		host_end = p;
	}
	host_len = (size_t)(host_end - host);
	if (*p == ':') {
		port = ++p;
		port_len = strspn(p, "0123456789");
		p += port_len;
		if (port_len == 0 || port_len > 5 || atoi(port) > 65535)
			goto bad;
	}
	if (*p == '/')
		p++;
	if (*p != '\0' || host_len == 0 || host_len >= sizeof c->host)
		goto bad;

	c = calloc(1, sizeof *c);
	if (!c) {
		snprintf(errmsg, errmsg_size, "out of memory");
		return NULL;
	}
	memcpy(c->host, host, host_len);
	memcpy(c->port, port, port_len);
	snprintf(c->host_header, sizeof c->host_header,
		 memchr(host, ':', host_len) ? "[%s]:%s" : "%s:%s", c->host, c->port);
	c->fd = -1;
	return c;
bad:
	snprintf(errmsg, errmsg_size, "'%s': expected http://HOST:PORT", url);
	return NULL;
}

/* Close the connection, if any; the next request opens a new one. */
static void
disconnect(http_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

void
http_client_free(http_client *c)
{
	if (!c)
		return;
	disconnect(c);
	free(c);
}

const char *
http_client_errmsg(http_client *c)
{
	return c->errmsg;
}

int
http_client_maybe_sent(http_client *c)
{
	return c->maybe_sent;
}

/* Connect to the first address of the host that accepts. */
static int
connect_server(http_client *c)
{
	struct addrinfo hints = {0}, *list, *ai;
	struct timeval tv = {.tv_sec = HTTP_TIMEOUT_SEC};
	int rc, fd = -1, saved = 0, one = 1;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(c->host, c->port, &hints, &list);
	if (rc != 0)
		return set_err(c, ERR_SYS, "cannot resolve %s: %s", c->host, gai_strerror(rc));
	for (ai = list; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(list);
	if (fd < 0)
		return set_err(c, ERR_SYS, "cannot connect to %s: %s", c->host_header,
			       strerror(saved));
	/* Requests are written whole, so Nagle would only add delay. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) {
		saved = errno;
		close(fd);
		return set_err(c, ERR_SYS, "cannot set socket options: %s", strerror(saved));
	}
	c->fd = fd;
	return 0;
}

/* True when a kept connection is unusable: closed by the peer, or unread data. */
static int
connection_stale(http_client *c)
{
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
	int n;

	do
		n = poll(&pfd, 1, 0);
	while (n < 0 && errno == EINTR);
	return n != 0;
}

/* Write all of the buffers; -1 with errno set on failure. */
static int
send_all(int fd, struct iovec *iov, int iovcnt)
{
	while (iovcnt > 0) {
		struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};
		ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/* Read more bytes into *buf; returns the count, 0 at EOF, -1 on error. */
static ssize_t
read_more(int fd, char **buf, size_t *len, size_t *cap, size_t max)
{
	ssize_t n;

	if (*cap - *len < 4096) {
		size_t ncap = *cap ? *cap * 2 : 8192;
		if (ncap > max + 1)
			ncap = max + 1;
		if (ncap <= *len + 1) {
			errno = EMSGSIZE;
			return -1;
		}
		char *nb = realloc(*buf, ncap);
		if (!nb)
			return -1;
		*buf = nb;
		*cap = ncap;
	}
	do
		n = recv(fd, *buf + *len, *cap - *len - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		*len += (size_t)n;
	return n;
}

/* The value of header name in the header block head, or NULL. */
static const char *
find_header(const char *head, const char *name, size_t *len_out)
{
	size_t nlen = strlen(name);

	for (const char *p = strstr(head, "\r\n"); p && p[2] != '\r'; p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2;
		if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
			const char *v = line + nlen + 1, *e = strstr(v, "\r\n");
			while (*v == ' ' || *v == '\t')
				v++;
			*len_out = (size_t)(e - v);
			while (*len_out && (v[*len_out - 1] == ' ' || v[*len_out - 1] == '\t'))
				(*len_out)--;
			return v;
		}
	}
	return NULL;
}

/* Read one response: status line, headers, and a Content-Length body. */
static int
read_response(http_client *c, struct http_response *resp)
{
	char *buf = NULL, *head_end;
	size_t len = 0, cap = 0, head_len, vlen, body_len = 0;
	const char *v;
	int rc, status, has_length = 0, keep = 1, minor;
	ssize_t n;

	while (!(head_end = len ? strstr(buf, "\r\n\r\n") : NULL)) {
		n = read_more(c->fd, &buf, &len, &cap, HTTP_HEAD_MAX);
		if (n <= 0) {
			rc = set_err(c, ERR_IO, "no answer from %s: %s", c->host_header,
				     n == 0            ? "the connection was closed"
				     : errno == EAGAIN ? "timed out"
						       : strerror(errno));
			goto fail;
		}
		buf[len] = '\0';
	}
	head_len = (size_t)(head_end - buf) + 4;
	head_end[2] = '\0'; /* keep the last header's "\r\n" for find_header */
	if (sscanf(buf, "HTTP/1.%d %3d", &minor, &status) != 2 || status < 100) {
		rc = set_err(c, ERR_IO, "%s answered with something that is not HTTP/1",
			     c->host_header);
		goto fail;
	}
	if (minor == 0)
		keep = 0;
	if ((v = find_header(buf, "connection", &vlen)) && vlen == 5 && !strncasecmp(v, "close", 5))
		keep = 0;
	if (find_header(buf, "transfer-encoding", &vlen)) {
		rc = set_err(c, ERR_IO,
			     "%s answered with a transfer encoding, which this "
			     "client does not support",
			     c->host_header);
		goto fail;
	}
	if ((v = find_header(buf, "content-length", &vlen))) {
		char *end;
		unsigned long long cl = strtoull(v, &end, 10);
		if (end == v || end != v + vlen || cl > HTTP_BODY_MAX) {
			rc = set_err(c, ERR_IO,
				     "%s answered with a bad or too large "
				     "Content-Length",
				     c->host_header);
			goto fail;
		}
		body_len = (size_t)cl;
		has_length = 1;
	} else {
		keep = 0; /* the body ends when the server closes */
	}

	/* Move the body to the front, then read the rest of it. */
	len -= head_len;
	memmove(buf, buf + head_len, len);
	while (!has_length || len < body_len) {
		n = read_more(c->fd, &buf, &len, &cap, HTTP_BODY_MAX);
		if (n == 0 && !has_length)
			break;
		if (n <= 0) {
			rc = set_err(c, ERR_IO, "incomplete answer from %s: %s", c->host_header,
				     n == 0            ? "the connection was closed"
				     : errno == EAGAIN ? "timed out"
						       : strerror(errno));
			goto fail;
		}
	}
	if (has_length && len > body_len) {
		rc = set_err(c, ERR_IO, "%s sent more than its Content-Length", c->host_header);
		goto fail;
	}
	buf[len] = '\0';
	if (!keep)
		disconnect(c);
	resp->status = status;
	resp->body = buf;
	resp->body_len = len;
	return 0;
fail:
	free(buf);
	disconnect(c);
	return rc;
}

int
http_client_request(http_client *c, const char *method, const char *path, const char *extra_headers,
		    const char *body, size_t len, struct http_response *resp)
{
	char head[1024];
	int n, rc, send_errno = 0;

	c->maybe_sent = 0;
	if (c->fd >= 0 && connection_stale(c))
		disconnect(c);
	if (c->fd < 0 && (rc = connect_server(c)))
		return rc;
	n = snprintf(head, sizeof head,
		     "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %zu\r\n%s\r\n", method, path,
		     c->host_header, len, extra_headers ? extra_headers : "");
	if (n < 0 || (size_t)n >= sizeof head)
		return set_err(c, ERR_INVAL, "request headers too long");

	struct iovec iov[2] = {
		{.iov_base = head, .iov_len = (size_t)n},
		{.iov_base = (void *)body, .iov_len = len},
	};
	c->maybe_sent = 1;
	if (send_all(c->fd, iov, len ? 2 : 1) != 0)
		send_errno = errno;
	/* Even when sending failed, the server may have answered first (it
	 * refuses an oversized body before reading it): read that answer. */
	rc = read_response(c, resp);
	if (rc && send_errno)
		return set_err(c, ERR_IO, "cannot send to %s: %s", c->host_header,
			       send_errno == EAGAIN ? "timed out" : strerror(send_errno));
	if (rc == 0)
		c->maybe_sent = 0;
	return rc;
}

void
http_response_free(struct http_response *resp)
{
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
}
