/* Name resolution with an optional loopback rule (resolve.h). */
#include "resolve.h"

#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

/* True when the address is 127.0.0.0/8, ::1 or ::ffff:127.x.y.z. */
static int
is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return 1;
		return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
	}
	return 0;
}

int
resolve_host(const char *host, int port, unsigned flags, struct resolve_list *out, char *errmsg)
{
	struct addrinfo hints, *list = NULL;
	struct resolve_list found;
	char service[8];
	int rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(service, sizeof service, "%d", port);
	rc = getaddrinfo(host, service, &hints, &list);
	if (rc)
		return err_set(errmsg, ERR_SYS, "cannot resolve '%s': %s", host, gai_strerror(rc));
	found.count = 0;
	for (struct addrinfo *ai = list; ai && found.count < RESOLVE_MAX; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof found.addr[0].sa)
			continue;
		if ((flags & RESOLVE_LOOPBACK) && !is_loopback(ai->ai_addr))
			continue;
		memcpy(&found.addr[found.count].sa, ai->ai_addr, ai->ai_addrlen);
		found.addr[found.count].len = ai->ai_addrlen;
		found.count++;
	}
	freeaddrinfo(list);
	if (found.count == 0)
		return err_set(errmsg, ERR_INVAL,
			       flags & RESOLVE_LOOPBACK ? "'%s' is not a loopback address"
							: "'%s' has no address to connect to",
			       host);
	*out = found;
	return 0;
}

int
resolve_text(const struct resolve_addr *a, char *buf)
{
	return getnameinfo((const struct sockaddr *)&a->sa, a->len, buf, RESOLVE_TEXT_SIZE, NULL, 0,
			   NI_NUMERICHOST)
		       ? ERR_INVAL
		       : 0;
}
