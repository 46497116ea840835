/* Resolving the --listen host (see address.h). */
#include "address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "err.h"

int
address_resolve(const char *host, struct address *out, char *errmsg)
{
	struct addrinfo hints, *res = NULL;
	struct address a = {0};
	int rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0)
		return err_set(errmsg, ERR_INVAL, "cannot resolve the --listen host '%s': %s", host,
			       gai_strerror(rc));
	/* getaddrinfo() returns at least one address on success. */
	a.family = res->ai_family;
	if (a.family == AF_INET) {
		const struct in_addr *in = &((const struct sockaddr_in *)res->ai_addr)->sin_addr;
		uint32_t ip = ntohl(in->s_addr);
		inet_ntop(AF_INET, in, a.ip, sizeof a.ip);
		a.any = ip == INADDR_ANY;
		a.loopback = (ip >> 24) == 127;
	} else if (a.family == AF_INET6) {
		const struct in6_addr *in6 =
			&((const struct sockaddr_in6 *)res->ai_addr)->sin6_addr;
		inet_ntop(AF_INET6, in6, a.ip, sizeof a.ip);
		a.any = IN6_IS_ADDR_UNSPECIFIED(in6);
		a.loopback = IN6_IS_ADDR_LOOPBACK(in6);
	} else {
		freeaddrinfo(res);
		return err_set(errmsg, ERR_INVAL, "the --listen host '%s' is not an IP address",
			       host);
	}
	freeaddrinfo(res);
	*out = a;
	return 0;
}

void
address_format(const struct address *a, int port, char *out, size_t size)
{
	snprintf(out, size, a->family == AF_INET6 ? "[%s]:%d" : "%s:%d", a->ip, port);
}
