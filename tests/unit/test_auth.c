/*
 * Unit tests of auth.c (tokens, roles and origins) and of the part of
 * gate.c that needs no connection (the connection count). Token files are
 * real files in a temporary folder; the environment's form is the same
 * lines separated by ';'. Asking a gate about a request needs a live lws
 * connection: the black-box tests do that.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH and FTW_PHYS */
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "assert.h"
#include "auth.h"
#include "err.h"
#include "gate.h"

static char root[64];

static int
remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static auth *
auth_new(void)
{
	auth *a = auth_create();
	ASSERT_NOT_NULL(a);
	return a;
}

/* Add lines that must be accepted. */
static void
add_ok(auth *a, const char *text, char sep)
{
	char errmsg[ERRMSG_SIZE] = "";
	int rc = auth_add_lines(a, text, sep, "test", errmsg);
	if (rc)
		fprintf(stderr, "auth_add_lines: %s\n", errmsg);
	ASSERT_OK(rc);
}

/* The lines must be refused with ERR_INVAL and exactly this message. */
static void
add_fails(const char *text, char sep, const char *where, const char *msg)
{
	char errmsg[ERRMSG_SIZE] = "";
	auth *a = auth_new();

	ASSERT_EQ(auth_add_lines(a, text, sep, where, errmsg), ERR_INVAL);
	ASSERT_STR_EQ(errmsg, msg);
	auth_destroy(a);
}

/* The verdicts for publish, subscribe and admin. */
static void
verdicts(const auth *a, const char *token, int publish, int subscribe, int admin)
{
	int got[3] = {auth_check(a, token, AUTH_PUBLISH), auth_check(a, token, AUTH_SUBSCRIBE),
		      auth_check(a, token, AUTH_ADMIN)};

	if (got[0] != publish || got[1] != subscribe || got[2] != admin)
		fprintf(stderr, "token '%s': %d %d %d, wanted %d %d %d\n", token ? token : "(none)",
			got[0], got[1], got[2], publish, subscribe, admin);
	ASSERT_EQ(got[0], publish);
	ASSERT_EQ(got[1], subscribe);
	ASSERT_EQ(got[2], admin);
}

#define OK   AUTH_ALLOWED
#define NONE AUTH_UNAUTHENTICATED
#define NOT  AUTH_FORBIDDEN

#define BAD_LINE "expected 'TOKEN ROLE[,ROLE...]' with roles publish, subscribe, audit, admin"
#define BAD_LEN  "a token must be 8 to 255 characters"

TEST(no_tokens_allow_everything)
{
	auth *a = auth_new();

	ASSERT_EQ(auth_token_count(a), 0);
	verdicts(a, NULL, OK, OK, OK);
	verdicts(a, "", OK, OK, OK);
	verdicts(a, "anything-at-all", OK, OK, OK);
	/* Comments and blank lines add no token. */
	add_ok(a, "# nothing yet\n\n   \n\t# indented\n", '\n');
	ASSERT_EQ(auth_token_count(a), 0);
	verdicts(a, "anything-at-all", OK, OK, OK);
	/* No token does not mean any web page: other sites stay out. */
	ASSERT_EQ(auth_origin_allowed(a, "https://anywhere.example"), 0);
	ASSERT_EQ(auth_origin_allowed(a, "http://localhost:3000"), 1);
	ASSERT_EQ(auth_origin_allowed(a, NULL), 1);
	auth_destroy(a);
	/* No table at all is the same as an empty one. */
	ASSERT_EQ(auth_check(NULL, NULL, AUTH_ADMIN), AUTH_ALLOWED);
	ASSERT_EQ(auth_origin_allowed(NULL, "https://anywhere.example"), 0);
	ASSERT_EQ(auth_origin_allowed(NULL, "http://127.0.0.1:8000"), 1);
}

TEST(roles)
{
	auth *a = auth_new();

	add_ok(a,
	       "# producers and readers\n"
	       "publisher-token-1 publish\n"
	       "\n"
	       "  reader-token-0001\tsubscribe  \n"
	       "both-token-000001 publish,subscribe\n"
	       "admin-token-00001 admin\r\n"
	       "all-token-0000001 subscribe,admin,publish",
	       '\n');
	ASSERT_EQ(auth_token_count(a), 5);

	verdicts(a, "publisher-token-1", OK, NOT, NOT);
	verdicts(a, "reader-token-0001", NOT, OK, NOT);
	verdicts(a, "both-token-000001", OK, OK, NOT);
	verdicts(a, "admin-token-00001", OK, OK, OK); /* admin may do everything */
	verdicts(a, "all-token-0000001", OK, OK, OK);

	/* No token, an empty one, an unknown one. */
	verdicts(a, NULL, NONE, NONE, NONE);
	verdicts(a, "", NONE, NONE, NONE);
	verdicts(a, "unknown-token-01", NONE, NONE, NONE);
	/* Case matters; so does every byte of the token. */
	verdicts(a, "PUBLISHER-TOKEN-1", NONE, NONE, NONE);
	verdicts(a, "publisher-token-2", NONE, NONE, NONE);
	/* The role text and the comment are not tokens. */
	verdicts(a, "publish", NONE, NONE, NONE);
	verdicts(a, "# producers and readers", NONE, NONE, NONE);
	/* The blanks around a token are not part of it. */
	verdicts(a, "  reader-token-0001", NONE, NONE, NONE);
	verdicts(a, "admin-token-00001\r", NONE, NONE, NONE);
	auth_destroy(a);
}

TEST(audit_role)
{
	auth *a = auth_new();

	add_ok(a,
	       "auditor-token-01 audit\n"
	       "reader-auditor-1 subscribe,audit\n"
	       "reader-token-001 subscribe\n"
	       "admin-token-0001 admin\n",
	       '\n');
	/* audit is its own role: queries and chain checks, nothing else. */
	verdicts(a, "auditor-token-01", NOT, NOT, NOT);
	ASSERT_EQ(auth_check(a, "auditor-token-01", AUTH_AUDIT), AUTH_ALLOWED);
	verdicts(a, "reader-auditor-1", NOT, OK, NOT);
	ASSERT_EQ(auth_check(a, "reader-auditor-1", AUTH_AUDIT), AUTH_ALLOWED);
	ASSERT_EQ(auth_check(a, "reader-token-001", AUTH_AUDIT), AUTH_FORBIDDEN);
	ASSERT_EQ(auth_check(a, "admin-token-0001", AUTH_AUDIT), AUTH_ALLOWED);
	ASSERT_EQ(auth_check(a, "unknown-token-01", AUTH_AUDIT), AUTH_UNAUTHENTICATED);
	auth_destroy(a);
}

TEST(prefixes_are_other_tokens)
{
	auth *a = auth_new();

	add_ok(a, "abcdefgh publish\nabcdefghij subscribe\n", '\n');
	verdicts(a, "abcdefgh", OK, NOT, NOT);
	verdicts(a, "abcdefghij", NOT, OK, NOT);
	verdicts(a, "abcdefghi", NONE, NONE, NONE);
	verdicts(a, "abcdefg", NONE, NONE, NONE);
	verdicts(a, "abcdefghijk", NONE, NONE, NONE);
	verdicts(a, "abcdefgh ", NONE, NONE, NONE);
	auth_destroy(a);
}

TEST(token_lengths)
{
	char line[AUTH_TOKEN_MAX + 32], token[AUTH_TOKEN_MAX + 1];
	auth *a = auth_new();

	/* 8 to AUTH_TOKEN_MAX - 1 characters. */
	add_ok(a, "12345678 publish", '\n');
	memset(token, 'k', AUTH_TOKEN_MAX - 1);
	token[AUTH_TOKEN_MAX - 1] = '\0';
	snprintf(line, sizeof line, "%s subscribe", token);
	add_ok(a, line, '\n');
	ASSERT_EQ(auth_token_count(a), 2);
	verdicts(a, "12345678", OK, NOT, NOT);
	verdicts(a, token, NOT, OK, NOT);

	add_fails("1234567 publish", '\n', "tokens", "tokens:1: " BAD_LEN);
	memset(token, 'k', AUTH_TOKEN_MAX);
	token[AUTH_TOKEN_MAX] = '\0';
	snprintf(line, sizeof line, "%s subscribe", token);
	add_fails(line, '\n', "tokens", "tokens:1: " BAD_LEN);
	/* A token too long to be stored is unknown, not a crash. */
	verdicts(a, token, NONE, NONE, NONE);
	auth_destroy(a);
}

TEST(bad_lines)
{
	/* The message names the source and the line, counted from 1 with
	 * blank and comment lines included. */
	add_fails("# c\n\nonly-a-token-0001\n", '\n', "/etc/sentinel/tokens",
		  "/etc/sentinel/tokens:3: " BAD_LINE);
	add_fails("good-token-00001 publish\ntoken-000002 reader", '\n', "t", "t:2: " BAD_LINE);
	add_fails("token-000001 Publish", '\n', "t", "t:1: " BAD_LINE);
	add_fails("token-000001 publish subscribe", '\n', "t", "t:1: " BAD_LINE);
	add_fails("token-000001 publish, subscribe", '\n', "t", "t:1: " BAD_LINE);
	add_fails("token-000001 publish,,subscribe", '\n', "t", "t:1: " BAD_LINE);
	add_fails("token-000001 ,publish", '\n', "t", "t:1: " BAD_LINE);
	add_fails("token-000001 publish;subscribe", '\n', "t", "t:1: " BAD_LINE);
	add_fails("token-000001 all", '\n', "t", "t:1: " BAD_LINE);
	add_fails("   publish", '\n', "t", "t:1: " BAD_LINE);
	/* The roles are checked before the length. */
	add_fails("short bogus", '\n', "t", "t:1: " BAD_LINE);
	add_fails("short publish", '\n', "t", "t:1: " BAD_LEN);
}

TEST(environment_form)
{
	auth *a = auth_new();

	/* SENTINEL_TOKENS: the same lines, separated by ';'. */
	add_ok(a,
	       "env-token-00001 publish; env-token-00002 subscribe;;# note;env-token-00003 admin;",
	       ';');
	ASSERT_EQ(auth_token_count(a), 3);
	verdicts(a, "env-token-00001", OK, NOT, NOT);
	verdicts(a, "env-token-00002", NOT, OK, NOT);
	verdicts(a, "env-token-00003", OK, OK, OK);
	/* A newline is no separator there: it ends up inside a line. */
	add_fails("env-token-00001 publish\nenv-token-00002 subscribe", ';', "SENTINEL_TOKENS",
		  "SENTINEL_TOKENS:1: " BAD_LINE);
	add_fails("env-token-00001 publish;env-token-00002;x", ';', "SENTINEL_TOKENS",
		  "SENTINEL_TOKENS:2: " BAD_LINE);
	/* More lines add to what is there: a file and the environment. */
	add_ok(a, "file-token-0001 subscribe\n", '\n');
	ASSERT_EQ(auth_token_count(a), 4);
	verdicts(a, "env-token-00001", OK, NOT, NOT);
	verdicts(a, "file-token-0001", NOT, OK, NOT);
	auth_destroy(a);
}

TEST(a_token_listed_twice_has_both_roles)
{
	auth *a = auth_new();

	add_ok(a, "twice-token-0001 publish\ntwice-token-0001 subscribe\n", '\n');
	verdicts(a, "twice-token-0001", OK, OK, NOT);
	auth_destroy(a);
}

/* Write text to a file under the run's folder; its path goes to path. */
static void
write_file(const char *name, const char *text, char *path, size_t size)
{
	int n = snprintf(path, size, "%s/%s", root, name);
	ASSERT(n > 0 && (size_t)n < size);
	FILE *f = fopen(path, "w");
	ASSERT_NOT_NULL(f);
	ASSERT_EQ(fwrite(text, 1, strlen(text), f), strlen(text));
	ASSERT_OK(fclose(f));
}

TEST(token_file)
{
	char path[512], msg[ERRMSG_SIZE + 600], errmsg[ERRMSG_SIZE] = "";
	auth *a = auth_new();

	/* CRLF lines and no newline at the end. */
	write_file("tokens", "# tokens\r\nfile-token-0001 publish\r\n\r\nfile-token-0002 admin",
		   path, sizeof path);
	ASSERT_OK(auth_load_file(a, path, errmsg));
	ASSERT_EQ(auth_token_count(a), 2);
	verdicts(a, "file-token-0001", OK, NOT, NOT);
	verdicts(a, "file-token-0002", OK, OK, OK);

	/* An empty file: no token, no error. */
	write_file("empty", "", path, sizeof path);
	ASSERT_OK(auth_load_file(a, path, errmsg));
	ASSERT_EQ(auth_token_count(a), 2);
	auth_destroy(a);

	/* Errors name the file and the line. */
	a = auth_new();
	write_file("bad", "ok-token-00001 publish\n\nbad-token-0001 root\n", path, sizeof path);
	ASSERT_EQ(auth_load_file(a, path, errmsg), ERR_INVAL);
	snprintf(msg, sizeof msg, "%s:3: %s", path, BAD_LINE);
	ASSERT_STR_EQ(errmsg, msg);
	auth_destroy(a);

	a = auth_new();
	snprintf(path, sizeof path, "%s/missing", root);
	ASSERT_EQ(auth_load_file(a, path, errmsg), ERR_INVAL);
	snprintf(msg, sizeof msg, "cannot read %s: No such file or directory", path);
	ASSERT_STR_EQ(errmsg, msg);
	ASSERT_EQ(auth_token_count(a), 0);
	auth_destroy(a);
}

TEST(origins)
{
	auth *a = auth_new();

	ASSERT_OK(auth_allow_origin(a, "https://Ops.Example.com"));
	ASSERT_OK(auth_allow_origin(a, "http://localhost:8080"));
	/* Compared whole and without regard to case. */
	ASSERT_EQ(auth_origin_allowed(a, "https://ops.example.com"), 1);
	ASSERT_EQ(auth_origin_allowed(a, "HTTPS://OPS.EXAMPLE.COM"), 1);
	ASSERT_EQ(auth_origin_allowed(a, "http://localhost:8080"), 1);
	ASSERT_EQ(auth_origin_allowed(a, "http://localhost:80800"), 0);
	ASSERT_EQ(auth_origin_allowed(a, "https://ops.example.com:8443"), 0);
	ASSERT_EQ(auth_origin_allowed(a, "https://ops.example.co"), 0);
	ASSERT_EQ(auth_origin_allowed(a, "http://ops.example.com"), 0);
	ASSERT_EQ(auth_origin_allowed(a, "https://evil.example.com"), 0);
	ASSERT_EQ(auth_origin_allowed(a, "null"), 0);
	ASSERT_EQ(auth_origin_allowed(a, ""), 0);
	/* No Origin: not a browser, always allowed. */
	ASSERT_EQ(auth_origin_allowed(a, NULL), 1);
	/* Pages served on this machine, on any port, need no listing. */
	ASSERT_EQ(auth_origin_allowed(a, "http://localhost"), 1);
	ASSERT_EQ(auth_origin_allowed(a, "http://localhost:3000"), 1);
	ASSERT_EQ(auth_origin_allowed(a, "https://LOCALHOST:8443"), 1);
	ASSERT_EQ(auth_origin_allowed(a, "http://127.0.0.1:5173"), 1);
	ASSERT_EQ(auth_origin_allowed(a, "http://127.1.2.3:80"), 1);
	ASSERT_EQ(auth_origin_allowed(a, "http://[::1]:3000"), 1);
	ASSERT_EQ(auth_origin_allowed(a, "http://[::1]"), 1);
	/* ...but nothing that merely looks like them. */
	ASSERT_EQ(auth_origin_allowed(a, "http://localhost.evil.example"), 0);
	ASSERT_EQ(auth_origin_allowed(a, "http://localhost:3000.evil.example"), 0);
	ASSERT_EQ(auth_origin_allowed(a, "http://localhost:"), 0);
	ASSERT_EQ(auth_origin_allowed(a, "http://localhost:0"), 0);
	ASSERT_EQ(auth_origin_allowed(a, "http://localhost:65536"), 0);
	ASSERT_EQ(auth_origin_allowed(a, "http://localhost:3000/"), 0);
	ASSERT_EQ(auth_origin_allowed(a, "http://127.0.0.1.evil.example"), 0);
	ASSERT_EQ(auth_origin_allowed(a, "http://128.0.0.1:3000"), 0);
	ASSERT_EQ(auth_origin_allowed(a, "http://10.0.0.1:3000"), 0);
	ASSERT_EQ(auth_origin_allowed(a, "http://127.0.0.1@evil.example"), 0);
	ASSERT_EQ(auth_origin_allowed(a, "http://[::1]x:3000"), 0);
	ASSERT_EQ(auth_origin_allowed(a, "http://[::2]:3000"), 0);
	ASSERT_EQ(auth_origin_allowed(a, "ftp://localhost:3000"), 0);
	ASSERT_EQ(auth_origin_allowed(a, "file://"), 0);
	ASSERT_EQ(auth_origin_is_loopback("null"), 0);
	/* Origins do not turn authentication on. */
	ASSERT_EQ(auth_token_count(a), 0);
	verdicts(a, NULL, OK, OK, OK);
	auth_destroy(a);
}

TEST(gate_counts_connections)
{
	auth *a = auth_new();
	gate *g = gate_create(a, 2, 0);

	ASSERT_NOT_NULL(g);
	ASSERT_EQ(gate_full(g), 0);
	gate_conn_opened(g);
	gate_conn_opened(g);
	ASSERT_EQ(gate_full(g), 0); /* at the limit is not past it */
	gate_conn_opened(g);
	ASSERT_EQ(gate_full(g), 1);
	gate_conn_closed(g);
	ASSERT_EQ(gate_full(g), 0);
	gate_conn_closed(g);
	gate_conn_closed(g);
	ASSERT_EQ(gate_full(g), 0);
	gate_destroy(g);
	auth_destroy(a);
}

int
main(int argc, char **argv)
{
	static const struct test_entry tests[] = {
		TEST_ENTRY(no_tokens_allow_everything),
		TEST_ENTRY(roles),
		TEST_ENTRY(audit_role),
		TEST_ENTRY(prefixes_are_other_tokens),
		TEST_ENTRY(token_lengths),
		TEST_ENTRY(bad_lines),
		TEST_ENTRY(environment_form),
		TEST_ENTRY(a_token_listed_twice_has_both_roles),
		TEST_ENTRY(token_file),
		TEST_ENTRY(origins),
		TEST_ENTRY(gate_counts_connections),
	};
	int rc;

	snprintf(root, sizeof root, "/tmp/sentinel-unit-auth-XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	rc = test_run(tests, argc, argv);
	ASSERT_OK(nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS));
	return rc;
}
