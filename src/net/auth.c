/*
 * Tokens and origins. The token table is small and read-only once the
 * server runs; a check walks every entry and compares every byte, so its
 * time does not depend on which token matched or how much of it did.
 */
#include "auth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"

struct token {
	char value[AUTH_TOKEN_MAX];
	size_t len;
	int roles;
};

struct auth {
	struct token *tokens;
	size_t count, cap;
	char **origins;
	size_t origin_count;
};

auth *
auth_create(void)
{
	return calloc(1, sizeof(auth));
}

void
auth_destroy(auth *a)
{
	if (!a)
		return;
	/* Do not leave secrets in freed memory. */
	if (a->tokens)
		memset(a->tokens, 0, a->cap * sizeof *a->tokens);
	free(a->tokens);
	for (size_t i = 0; i < a->origin_count; i++)
		free(a->origins[i]);
	free(a->origins);
	free(a);
}

static int
parse_roles(const char *s, size_t len, int *out)
{
	int roles = 0;
	while (len) {
		const char *comma = memchr(s, ',', len);
		size_t n = comma ? (size_t)(comma - s) : len;
		if (n == 7 && !memcmp(s, "publish", 7))
			roles |= AUTH_PUBLISH;
		else if (n == 9 && !memcmp(s, "subscribe", 9))
			roles |= AUTH_SUBSCRIBE;
		else if (n == 5 && !memcmp(s, "admin", 5))
			roles |= AUTH_ADMIN;
		else if (n == 5 && !memcmp(s, "audit", 5))
			roles |= AUTH_AUDIT;
		else
			return -1;
		if (!comma)
			break;
		len -= n + 1;
		s = comma + 1;
	}
	if (!roles)
		return -1;
	*out = roles;
	return 0;
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* One line: "TOKEN ROLE[,ROLE...]", or blank, or a # comment. */
static int
add_line(auth *a, const char *line, size_t len, const char *where, int lineno, char *errmsg)
{
	const char *p = line, *end = line + len;
	const char *tok, *roles;
	size_t tok_len, roles_len;
	int mask;

	while (p < end && is_blank(*p))
		p++;
	while (end > p && is_blank(end[-1]))
		end--;
	if (p == end || *p == '#')
		return 0;
	tok = p;
	while (p < end && !is_blank(*p))
		p++;
	tok_len = (size_t)(p - tok);
	while (p < end && is_blank(*p))
		p++;
	roles = p;
	roles_len = (size_t)(end - p);
	if (!roles_len || memchr(roles, ' ', roles_len) || memchr(roles, '\t', roles_len) ||
	    parse_roles(roles, roles_len, &mask)) {
		snprintf(errmsg, ERRMSG_SIZE,
			 "%s:%d: expected 'TOKEN ROLE[,ROLE...]' with roles publish, subscribe, "
			 "audit, admin",
			 where, lineno);
		return ERR_INVAL;
	}
	if (tok_len < 8 || tok_len >= AUTH_TOKEN_MAX) {
		snprintf(errmsg, ERRMSG_SIZE, "%s:%d: a token must be 8 to %d characters", where,
			 lineno, AUTH_TOKEN_MAX - 1);
		return ERR_INVAL;
	}
	if (a->count == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 8;
		struct token *t = realloc(a->tokens, cap * sizeof *t);
		if (!t) {
			snprintf(errmsg, ERRMSG_SIZE, "out of memory");
			return ERR_NOMEM;
		}
		a->tokens = t;
		a->cap = cap;
	}
	struct token *t = &a->tokens[a->count++];
	memset(t, 0, sizeof *t);
	memcpy(t->value, tok, tok_len);
	t->len = tok_len;
	t->roles = mask;
	return 0;
}

int
auth_add_lines(auth *a, const char *text, char sep, const char *where, char *errmsg)
{
	int lineno = 1;
	for (const char *p = text;; lineno++) {
		const char *e = strchr(p, sep);
		size_t len = e ? (size_t)(e - p) : strlen(p);
		int rc = add_line(a, p, len, where, lineno, errmsg);
		if (rc)
			return rc;
		if (!e)
			return 0;
		p = e + 1;
	}
}

int
auth_load_file(auth *a, const char *path, char *errmsg)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (!f) {
		snprintf(errmsg, ERRMSG_SIZE, "cannot read %s: %s", path, strerror(errno));
		return ERR_INVAL;
	}
	FILE *m = open_memstream(&text, &len);
	char chunk[4096];
	size_t n;
	while (m && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
		fwrite(chunk, 1, n, m);
	rc = ferror(f) || !m ? ERR_INVAL : 0;
	fclose(f);
	if (m)
		fclose(m);
	if (rc) {
		snprintf(errmsg, ERRMSG_SIZE, "cannot read %s", path);
		free(text);
		return rc;
	}
	rc = auth_add_lines(a, text ? text : "", '\n', path, errmsg);
	if (text)
		memset(text, 0, len);
	free(text);
	return rc;
}

size_t
auth_token_count(const auth *a)
{
	return a->count;
}

/* Compare without an early exit: the time depends only on the lengths. */
static int
equal_ct(const struct token *t, const char *s, size_t len)
{
	unsigned char diff = (unsigned char)(t->len != len);
	for (size_t i = 0; i < AUTH_TOKEN_MAX - 1; i++) {
		unsigned char c = i < len ? (unsigned char)s[i] : 0;
		diff |= (unsigned char)(c ^ (unsigned char)t->value[i]);
	}
	return diff == 0;
}

enum auth_verdict
auth_check(const auth *a, const char *token, enum auth_role role)
{
	int roles = 0, found = 0;
	size_t len;

	if (!a || a->count == 0)
		return AUTH_ALLOWED;
	if (!token || (len = strlen(token)) == 0 || len >= AUTH_TOKEN_MAX)
		return AUTH_UNAUTHENTICATED;
	for (size_t i = 0; i < a->count; i++) {
		int match = equal_ct(&a->tokens[i], token, len);
		found |= match;
		roles |= match ? a->tokens[i].roles : 0;
	}
	if (!found)
		return AUTH_UNAUTHENTICATED;
	return (roles & (int)role) || (roles & AUTH_ADMIN) ? AUTH_ALLOWED : AUTH_FORBIDDEN;
}

int
auth_allow_origin(auth *a, const char *origin)
{
	char **o = realloc(a->origins, (a->origin_count + 1) * sizeof *o);
	if (!o)
		return ERR_NOMEM;
	a->origins = o;
	o[a->origin_count] = strdup(origin);
	if (!o[a->origin_count])
		return ERR_NOMEM;
	a->origin_count++;
	return 0;
}

int
auth_origin_is_loopback(const char *origin)
{
	const char *host, *end;
	char ip[16];
	struct in_addr in;
	size_t len;

	if (!strncasecmp(origin, "http://", 7))
		host = origin + 7;
	else if (!strncasecmp(origin, "https://", 8))
		host = origin + 8;
	else
		return 0;
	end = host[0] == '[' ? strchr(host, ']') : host + strcspn(host, ":");
	if (!end)
		return 0;
	end += host[0] == '[';
	len = (size_t)(end - host);
	if (!(len == 9 && !strncasecmp(host, "localhost", 9)) &&
	    !(len == 5 && !memcmp(host, "[::1]", 5))) {
		if (len >= sizeof ip)
			return 0;
		memcpy(ip, host, len);
		ip[len] = '\0';
		if (inet_pton(AF_INET, ip, &in) != 1 || (ntohl(in.s_addr) >> 24) != 127)
			return 0;
	}
	if (*end == '\0')
		return 1;
	/* ":PORT", 1 to 65535, and nothing after it (an origin has no path). */
	if (*end != ':' || !end[1] || strlen(end + 1) > 5 ||
	    strspn(end + 1, "0123456789") != strlen(end + 1))
		return 0;
	long port = strtol(end + 1, NULL, 10);
	return port >= 1 && port <= 65535;
}

int
auth_origin_allowed(const auth *a, const char *origin)
{
	if (!origin)
		return 1;
	for (size_t i = 0; a && i < a->origin_count; i++)
		if (!strcasecmp(a->origins[i], origin))
			return 1;
	return auth_origin_is_loopback(origin);
}
