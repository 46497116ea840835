/*
 * Access control: bearer tokens with roles, and the Origin allow-list for
 * browser clients.
 *
 * Tokens come from a file (--token-file: one "TOKEN ROLE[,ROLE...]" a
 * line, blank lines and # comments ignored) and from the environment
 * (SENTINEL_TOKENS: the same lines separated by ';'). With no token
 * configured every request is allowed, as on a loopback-only default.
 * Tokens are compared in constant time and never logged.
 */
#ifndef SENTINEL_AUTH_H
#define SENTINEL_AUTH_H

#include <stddef.h>

enum auth_role {
	AUTH_PUBLISH = 1 << 0,
	AUTH_SUBSCRIBE = 1 << 1,
	AUTH_ADMIN = 1 << 2, /* may do everything */
	AUTH_AUDIT = 1 << 3, /* POST /api/sql and GET /api/verify */
};

#define AUTH_TOKEN_MAX 256

typedef struct auth auth;

/* An empty table (authentication off). NULL when out of memory. */
auth *auth_create(void);
void auth_destroy(auth *a);

/*
 * Add the token lines of text (separated by sep: '\n' for a file, ';' for
 * the environment). where names the source in messages. Returns 0, or
 * ERR_INVAL or ERR_NOMEM with "where:line: why" in errmsg.
 */
int auth_add_lines(auth *a, const char *text, char sep, const char *where, char *errmsg);

/* Read a token file into a. Same contract as auth_add_lines(). */
int auth_load_file(auth *a, const char *path, char *errmsg);

/* Number of tokens configured (0: authentication is off). */
size_t auth_token_count(const auth *a);

/* The answer to "may this token act in this role?", as an HTTP status. */
enum auth_verdict {
	AUTH_ALLOWED = 0,
	AUTH_UNAUTHENTICATED = 401, /* no token, or an unknown one */
	AUTH_FORBIDDEN = 403,       /* a known token without the role */
};

/* May the bearer of token (NULL when none was sent) act in role? */
enum auth_verdict auth_check(const auth *a, const char *token, enum auth_role role);

/* Allow browser requests from this origin (e.g. "https://ops.example.com").
 * Returns 0 or ERR_NOMEM. */
int auth_allow_origin(auth *a, const char *origin);

/*
 * May a request with this Origin header (NULL when absent) go on? Returns 1
 * for yes, 0 for no. Yes for requests without an Origin (non-browser
 * clients), for a listed origin, and for a loopback origin (http or https
 * on localhost, 127.0.0.0/8 or [::1], any port: a page served on this
 * machine, such as a development server). Other origins are refused, also
 * when no origin is listed. A page of the server itself is recognised by
 * the gate, which sees the request's Host.
 */
int auth_origin_allowed(const auth *a, const char *origin);

/* Is origin a loopback origin (see auth_origin_allowed)? 1 for yes, 0 for no. */
int auth_origin_is_loopback(const char *origin);

#endif
