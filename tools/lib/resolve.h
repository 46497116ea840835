/*
 * Name resolution for the tools' clients: a URL's host and port to the
 * socket addresses to try, in the resolver's order. With RESOLVE_LOOPBACK
 * only loopback addresses are kept, for a tool that may load a server on
 * this machine only.
 */
#ifndef SENTINEL_RESOLVE_H
#define SENTINEL_RESOLVE_H

#include <stddef.h>
#include <sys/socket.h>

/* The most addresses kept of one name. */
#define RESOLVE_MAX 8
/* The size of an address as text (an IPv6 address with its zone). */
#define RESOLVE_TEXT_SIZE 80

/* Keep only loopback addresses (127.0.0.0/8, ::1, ::ffff:127.x.y.z). */
#define RESOLVE_LOOPBACK 1u

struct resolve_addr {
	struct sockaddr_storage sa;
	socklen_t len;
};

struct resolve_list {
	size_t count; /* at least 1 after a successful resolve_host() */
	struct resolve_addr addr[RESOLVE_MAX];
};

/*
 * Resolve host (a name or an address, an IPv6 one with an optional
 * "%zone") with port into *out. Returns 0; ERR_SYS when the name does not
 * resolve; or ERR_INVAL when flags has RESOLVE_LOOPBACK and no address is a
 * loopback one; with the reason in errmsg and *out untouched.
 */
int resolve_host(const char *host, int port, unsigned flags, struct resolve_list *out,
		 char *errmsg);

/*
 * Write a's address, without the port, as numeric text into buf
 * (RESOLVE_TEXT_SIZE bytes). Returns 0, or ERR_INVAL.
 */
int resolve_text(const struct resolve_addr *a, char *buf);

#endif
