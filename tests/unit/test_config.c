/*
 * Unit tests of config.c: defaults, every form of --listen, the sizes and
 * their limits, commands, and refusing what is wrong. config_parse() prints
 * its errors (and --help) as it would for a user; that output is expected.
 */
#include <stdint.h>
#include <string.h>

#include "assert.h"
#include "config.h"
#include "err.h"
#include "ingest.h"

#define KIB      ((size_t)1024)
#define MIB      (KIB * 1024)
#define GIB      (MIB * 1024)
#define MAX_ARGS 16

/* Argument strings are copied here and never overwritten, like the strings
 * of a real argv: getopt may keep a pointer into the last ones it read. */
static char arena[1 << 18];
static size_t arena_used;

/* Run config_parse on a NULL-terminated list of arguments (the program
 * name first), on writable copies as a real argv would be. */
static int
parse(struct config *cfg, const char *const *args)
{
	char *argv[MAX_ARGS + 1];
	int argc = 0;

	for (; args[argc]; argc++) {
		size_t size = strlen(args[argc]) + 1;
		ASSERT_LT(argc, MAX_ARGS);
		ASSERT_LE(arena_used + size, sizeof arena);
		argv[argc] = memcpy(arena + arena_used, args[argc], size);
		arena_used += size;
	}
	argv[argc] = NULL;
	return config_parse(cfg, argc, argv);
}

#define PARSE(cfg, ...) parse(cfg, (const char *const[]){"sentinel-logd", __VA_ARGS__, NULL})

static void
assert_defaults_but_listen(const struct config *cfg)
{
	ASSERT_EQ(cfg->command, CONFIG_SERVE);
	ASSERT_STR_EQ(cfg->db_path, "data/sentinel.db");
	ASSERT_EQ(cfg->sync_full, 0);
	ASSERT_EQ(cfg->event_max, 256 * KIB);
	ASSERT_EQ(cfg->body_max, 16 * MIB);
	ASSERT_EQ(cfg->event_max, INGEST_EVENT_MAX_DEFAULT);
	ASSERT_EQ(cfg->body_max, INGEST_BODY_MAX_DEFAULT);
	ASSERT_EQ(cfg->cache_events, 65536);
	ASSERT_EQ(cfg->cache_bytes, 64 * MIB);
	ASSERT_EQ(cfg->verbose, 0);
}

TEST(defaults)
{
	struct config cfg;

	ASSERT_OK(parse(&cfg, (const char *const[]){"sentinel-logd", NULL}));
	ASSERT_STR_EQ(cfg.host, "127.0.0.1");
	ASSERT_EQ(cfg.port, 8000);
	assert_defaults_but_listen(&cfg);

	/* "serve" is the default command, spelled out. */
	ASSERT_OK(PARSE(&cfg, "serve"));
	ASSERT_STR_EQ(cfg.host, "127.0.0.1");
	ASSERT_EQ(cfg.port, 8000);
	assert_defaults_but_listen(&cfg);
}

/* --listen arg must give host and port. */
static void
listen_is(const char *arg, const char *host, int port)
{
	struct config cfg;

	ASSERT_OK(PARSE(&cfg, "--listen", arg));
	ASSERT_STR_EQ(cfg.host, host);
	ASSERT_EQ(cfg.port, port);
	assert_defaults_but_listen(&cfg);

	char joined[300];
	snprintf(joined, sizeof joined, "--listen=%s", arg);
	ASSERT_OK(PARSE(&cfg, joined));
	ASSERT_STR_EQ(cfg.host, host);
	ASSERT_EQ(cfg.port, port);
}

TEST(listen_forms)
{
	listen_is("0.0.0.0:9000", "0.0.0.0", 9000);
	listen_is("127.0.0.1:8000", "127.0.0.1", 8000);
	listen_is("[::1]:8000", "::1", 8000);
	listen_is("[::]:8002", "::", 8002);
	listen_is("[fe80::1%eth0]:443", "fe80::1%eth0", 443);
	listen_is(":8001", "127.0.0.1", 8001);
	listen_is("localhost:65535", "localhost", 65535);
	listen_is("example.org:1", "example.org", 1);
}

TEST(listen_rejects)
{
	static const char *bad[] = {
		"",
		"8000",
		"localhost",
		"0.0.0.0:",
		":",
		"0.0.0.0:65536",
		"0.0.0.0:99999999999999999999",
		"0.0.0.0:-1",
		"0.0.0.0:80x",
		"0.0.0.0:0x50",
		"0.0.0.0:8.0",
		"[::1]",
		"[::1]:",
	};
	struct config cfg;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (PARSE(&cfg, "--listen", bad[i]) != -1)
			fprintf(stderr, "accepted --listen '%s'\n", bad[i]);
		ASSERT_EQ(PARSE(&cfg, "--listen", bad[i]), -1);
	}

	/* A host longer than the buffer. */
	char longhost[300];
	memset(longhost, 'h', 280);
	strcpy(longhost + 280, ":80");
	ASSERT_EQ(PARSE(&cfg, "--listen", longhost), -1);
}

TEST(db_and_sync)
{
	struct config cfg;

	ASSERT_OK(PARSE(&cfg, "--db", "/var/lib/sentinel/x.db", "--sync", "full"));
	ASSERT_STR_EQ(cfg.db_path, "/var/lib/sentinel/x.db");
	ASSERT_EQ(cfg.sync_full, 1);
	ASSERT_OK(PARSE(&cfg, "--sync", "full", "--sync", "normal"));
	ASSERT_EQ(cfg.sync_full, 0);
	ASSERT_OK(PARSE(&cfg, "--sync=full"));
	ASSERT_EQ(cfg.sync_full, 1);

	ASSERT_EQ(PARSE(&cfg, "--sync", "fast"), -1);
	ASSERT_EQ(PARSE(&cfg, "--sync", "FULL"), -1);
	ASSERT_EQ(PARSE(&cfg, "--sync", ""), -1);
	ASSERT_EQ(PARSE(&cfg, "--sync", "off"), -1);
	ASSERT_EQ(PARSE(&cfg, "--db", ""), -1);
}

TEST(sizes)
{
	struct config cfg;

	ASSERT_OK(PARSE(&cfg, "--max-event-bytes", "1MiB", "--max-body-bytes", "64MiB",
			"--cache-bytes", "1GiB", "--cache-events", "1024"));
	ASSERT_EQ(cfg.event_max, MIB);
	ASSERT_EQ(cfg.body_max, 64 * MIB);
	ASSERT_EQ(cfg.cache_bytes, GIB);
	ASSERT_EQ(cfg.cache_events, 1024);

	ASSERT_OK(PARSE(&cfg, "--max-event-bytes", "1024"));
	ASSERT_EQ(cfg.event_max, 1024);

	/* An event can never be bigger than a body. */
	ASSERT_OK(PARSE(&cfg, "--max-event-bytes", "1MiB", "--max-body-bytes", "512KiB"));
	ASSERT_EQ(cfg.body_max, 512 * KIB);
	ASSERT_EQ(cfg.event_max, 512 * KIB);

	static const char *const size_flags[] = {
		"--max-event-bytes",
		"--max-body-bytes",
		"--cache-bytes",
	};
	static const char *const bad_sizes[] = {
		"",
		"1023",
		"0",
		"1KB",
		"1 KiB",
		"KiB",
		"-1",
		"-1KiB",
		"abc",
		"1.5MiB",
		"16EiB",
		"99999999999999999999",
		"17179869184GiB",
	};
	for (size_t f = 0; f < 3; f++) {
		for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
			if (PARSE(&cfg, size_flags[f], bad_sizes[i]) != -1)
				fprintf(stderr, "accepted %s '%s'\n", size_flags[f], bad_sizes[i]);
			ASSERT_EQ(PARSE(&cfg, size_flags[f], bad_sizes[i]), -1);
		}
	}

	ASSERT_EQ(PARSE(&cfg, "--cache-events", "0"), -1);
	ASSERT_EQ(PARSE(&cfg, "--cache-events", "16777217"), -1);
	ASSERT_OK(PARSE(&cfg, "--cache-events", "16777216"));
	ASSERT_EQ(cfg.cache_events, 16777216);
	ASSERT_OK(PARSE(&cfg, "--cache-events", "1"));
	ASSERT_EQ(cfg.cache_events, 1);
}

TEST(commands)
{
	struct config cfg;

	ASSERT_OK(PARSE(&cfg, "migrate"));
	ASSERT_EQ(cfg.command, CONFIG_MIGRATE);
	ASSERT_STR_EQ(cfg.db_path, "data/sentinel.db");

	ASSERT_OK(PARSE(&cfg, "migrate", "--db", "/tmp/x.db"));
	ASSERT_EQ(cfg.command, CONFIG_MIGRATE);
	ASSERT_STR_EQ(cfg.db_path, "/tmp/x.db");

	ASSERT_OK(PARSE(&cfg, "serve", "--listen", ":9001", "-v"));
	ASSERT_EQ(cfg.command, CONFIG_SERVE);
	ASSERT_EQ(cfg.port, 9001);
	ASSERT_EQ(cfg.verbose, 1);

	ASSERT_OK(PARSE(&cfg, "--verbose"));
	ASSERT_EQ(cfg.verbose, 1);

	ASSERT_EQ(PARSE(&cfg, "frobnicate"), -1);
	ASSERT_EQ(PARSE(&cfg, "Migrate"), -1);
}

TEST(help_and_version)
{
	struct config cfg;

	ASSERT_OK(PARSE(&cfg, "--help"));
	ASSERT_EQ(cfg.command, CONFIG_EXIT);
	ASSERT_OK(PARSE(&cfg, "-h"));
	ASSERT_EQ(cfg.command, CONFIG_EXIT);
	ASSERT_OK(PARSE(&cfg, "--version"));
	ASSERT_EQ(cfg.command, CONFIG_EXIT);
	ASSERT_OK(PARSE(&cfg, "-V"));
	ASSERT_EQ(cfg.command, CONFIG_EXIT);
	ASSERT_OK(PARSE(&cfg, "migrate", "--help"));
	ASSERT_EQ(cfg.command, CONFIG_EXIT);
}

TEST(rejects_unknown_and_stray)
{
	struct config cfg;

	ASSERT_EQ(PARSE(&cfg, "--nope"), -1);
	ASSERT_EQ(PARSE(&cfg, "--listen", "0.0.0.0:1", "--nope"), -1);
	ASSERT_EQ(PARSE(&cfg, "-x"), -1);
	ASSERT_EQ(PARSE(&cfg, "-vx"), -1);
	/* A flag without its value. */
	ASSERT_EQ(PARSE(&cfg, "--db"), -1);
	ASSERT_EQ(PARSE(&cfg, "--listen"), -1);
	/* A stray argument. */
	ASSERT_EQ(PARSE(&cfg, "serve", "extra"), -1);
	ASSERT_EQ(PARSE(&cfg, "--sync", "full", "extra"), -1);
	ASSERT_EQ(PARSE(&cfg, "migrate", "serve"), -1);
	ASSERT_EQ(PARSE(&cfg, "--verbose=1"), -1);

	/* A good parse after all those failures still works: no state is
	 * left over from them. */
	ASSERT_OK(PARSE(&cfg, "--listen", "0.0.0.0:9000", "-v"));
	ASSERT_STR_EQ(cfg.host, "0.0.0.0");
	ASSERT_EQ(cfg.port, 9000);
	ASSERT_EQ(cfg.verbose, 1);
}

TEST(parse_again_after_an_error)
{
	struct config cfg;

	/* An unknown option in the middle of a group of short options... */
	ASSERT_EQ(PARSE(&cfg, "-xv"), -1);
	/* ...must leave nothing behind for the next parse (getopt keeps its
	 * place in the group unless optind is reset to 0). */
	ASSERT_OK(PARSE(&cfg, "--db", "x.db"));
	ASSERT_STR_EQ(cfg.db_path, "x.db");
	ASSERT_EQ(cfg.verbose, 0);
}

int
main(int argc, char **argv)
{
	static const struct test_entry tests[] = {
		TEST_ENTRY(defaults),
		TEST_ENTRY(listen_forms),
		TEST_ENTRY(listen_rejects),
		TEST_ENTRY(db_and_sync),
		TEST_ENTRY(sizes),
		TEST_ENTRY(commands),
		TEST_ENTRY(help_and_version),
		TEST_ENTRY(rejects_unknown_and_stray),
		TEST_ENTRY(parse_again_after_an_error),
	};

	return test_run(tests, argc, argv);
}
