/*
 * The address to listen on: a host name or an IP literal of --listen,
 * resolved once at start into the numeric address that is bound. Plain
 * libc (getaddrinfo); no libwebsockets here.
 */
#ifndef SENTINEL_ADDRESS_H
#define SENTINEL_ADDRESS_H

#include <netinet/in.h>

struct address {
	int family;                /* AF_INET or AF_INET6 */
	char ip[INET6_ADDRSTRLEN]; /* numeric: "127.0.0.1", "::1", "0.0.0.0" */
	int any;                   /* the wildcard: every interface */
	int loopback;              /* 127.0.0.0/8 or ::1 */
};

/*
 * Resolve host (a name, an IPv4 literal or an IPv6 literal without
 * brackets) to the first address the resolver gives. Returns 0, or
 * ERR_INVAL with a message naming host in errmsg; *out is untouched on
 * failure.
 */
int address_resolve(const char *host, struct address *out, char *errmsg);

/* "1.2.3.4:80" or "[::1]:80" into out (size bytes). */
void address_format(const struct address *a, int port, char *out, size_t size);

#endif
