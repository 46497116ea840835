/*
 * Unit tests of config.c and config_file.c: defaults, every form of
 * --listen, the sizes and their limits, commands (and the flags only
 * backup and restore take), and refusing what is wrong; the configuration
 * file, the environment variables and their precedence. config_parse()
 * prints its errors (and --help) as it would for a user; that output is
 * expected.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

#define PARSE(cfg, ...)    parse(cfg, (const char *const[]){"sentinel-logd", __VA_ARGS__, NULL})
#define PARSE_NOTHING(cfg) parse(cfg, (const char *const[]){"sentinel-logd", NULL})

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

	/* backup needs --to, restore --from, and nothing else takes them. */
	ASSERT_OK(PARSE(&cfg, "backup", "--db", "a.db", "--to", "b.db"));
	ASSERT_EQ(cfg.command, CONFIG_BACKUP);
	ASSERT_STR_EQ(cfg.db_path, "a.db");
	ASSERT_STR_EQ(cfg.backup_to, "b.db");
	ASSERT_OK(PARSE(&cfg, "restore", "--from", "b.db"));
	ASSERT_EQ(cfg.command, CONFIG_RESTORE);
	ASSERT_STR_EQ(cfg.restore_from, "b.db");
	ASSERT_STR_EQ(cfg.db_path, "data/sentinel.db");
	ASSERT_EQ(PARSE(&cfg, "backup"), -1);
	ASSERT_EQ(PARSE(&cfg, "restore", "--to", "b.db"), -1);
	ASSERT_EQ(PARSE(&cfg, "backup", "--to", ""), -1);
	ASSERT_EQ(PARSE(&cfg, "--to", "b.db"), -1);
	ASSERT_EQ(PARSE(&cfg, "compact", "--from", "b.db"), -1);
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

/* A configuration file with these contents; its path in path (64 bytes). */
static void
write_file(char *path, const char *text)
{
	FILE *f;
	int fd;

	strcpy(path, "/tmp/test_config.XXXXXX");
	fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	f = fdopen(fd, "w");
	ASSERT_NOT_NULL(f);
	ASSERT_EQ(fputs(text, f) >= 0, 1);
	ASSERT_OK(fclose(f));
}

TEST(file_values)
{
	struct config cfg;
	char path[64];

	write_file(path, "\xef\xbb\xbf# a comment\n"
			 "\n"
			 "listen = 0.0.0.0:9100\n"
			 "   db=/var/lib/x/store.db  \r\n"
			 "\t# an indented comment\n"
			 "sync = full # power loss too\n"
			 "retain = security=365d\t# a year\n"
			 "retain = monitor=7d\n"
			 "allow-anonymous = yes\n"
			 "verbose = false\n"
			 "max-body-bytes = 1MiB\n"
			 "log-format = json\n"
			 "token-file = /etc/a#b  #  a '#' after a blank starts a comment\n"
			 "allow-origin = https://a.example\n"
			 "allow-origin = https://b.example");
	ASSERT_OK(PARSE(&cfg, "--config", path));
	ASSERT_STR_EQ(cfg.config_file, path);
	ASSERT_STR_EQ(cfg.host, "0.0.0.0");
	ASSERT_EQ(cfg.port, 9100);
	ASSERT_STR_EQ(cfg.db_path, "/var/lib/x/store.db");
	ASSERT_EQ(cfg.sync_full, 1);
	ASSERT_EQ(cfg.retention.type_count, 2);
	ASSERT_STR_EQ(cfg.retention.types[0].type, "security");
	ASSERT_EQ(cfg.retention.types[0].max_age_us, 365LL * 86400 * 1000000);
	ASSERT_STR_EQ(cfg.retention.types[1].type, "monitor");
	ASSERT_EQ(cfg.allow_anonymous, 1);
	ASSERT_EQ(cfg.verbose, 0);
	ASSERT_EQ(cfg.body_max, MIB);
	ASSERT_EQ(cfg.log_format, LOG_FORMAT_JSON);
	ASSERT_STR_EQ(cfg.token_file, "/etc/a#b");
	ASSERT_EQ(cfg.origin_count, 2);
	ASSERT_STR_EQ(cfg.origins[1], "https://b.example");
	/* Untouched keys keep their defaults. */
	ASSERT_EQ(cfg.cache_events, 65536);
	config_free(&cfg);

	/* An empty name reads no file. */
	ASSERT_OK(PARSE(&cfg, "--config", ""));
	ASSERT_NULL(cfg.config_file);
	assert_defaults_but_listen(&cfg);
	config_free(&cfg);
	unlink(path);
}

TEST(file_errors)
{
	static const char *const bad[] = {
		"lisen = 127.0.0.1:1\n",                        /* unknown key */
		"listen = nowhere\n",                           /* bad value */
		"listen = 127.0.0.1:1\nlisten = 127.0.0.1:2\n", /* set twice */
		"listen\n",                                     /* no '=' */
		"= 127.0.0.1:1\n",                              /* no key */
		"listen =\n",                                   /* no value */
		"listen =   \n",                                /* only blanks */
		"verbose = maybe\n",                            /* not a boolean */
		"config = /etc/other.conf\n",                   /* not in a file */
		"help = true\n",                                /* not an option of files */
		"--listen = 127.0.0.1:1\n",                     /* keys have no dashes */
		"retain = security\n",                          /* bad repeated value */
		"tls-cert = /a.pem\n",                          /* without tls-key */
	};
	struct config cfg;
	char path[64];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		write_file(path, bad[i]);
		if (PARSE(&cfg, "--config", path) != -1)
			fprintf(stderr, "accepted the file: %s", bad[i]);
		ASSERT_EQ(PARSE(&cfg, "--config", path), -1);
		unlink(path);
	}
	/* A file named explicitly must exist. */
	ASSERT_EQ(PARSE(&cfg, "--config", "/nonexistent/sentinel-logd.conf"), -1);
	ASSERT_OK(setenv("SENTINEL_CONFIG", "/nonexistent/sentinel-logd.conf", 1));
	ASSERT_EQ(PARSE_NOTHING(&cfg), -1);
	ASSERT_OK(setenv("SENTINEL_CONFIG", "", 1));
}

TEST(environment)
{
	struct config cfg;

	ASSERT_OK(setenv("SENTINEL_SYNC", "full", 1));
	ASSERT_OK(setenv("SENTINEL_MAX_EVENT_BYTES", "4KiB", 1));
	ASSERT_OK(setenv("SENTINEL_RETAIN", "error=1d,,agent=2h,", 1));
	ASSERT_OK(setenv("SENTINEL_ALLOW_ANONYMOUS", "true", 1));
	ASSERT_OK(PARSE(&cfg, "serve"));
	ASSERT_EQ(cfg.sync_full, 1);
	ASSERT_EQ(cfg.event_max, 4 * KIB);
	ASSERT_EQ(cfg.retention.type_count, 2);
	ASSERT_STR_EQ(cfg.retention.types[1].type, "agent");
	ASSERT_EQ(cfg.retention.types[1].max_age_us, 2LL * 3600 * 1000000);
	ASSERT_EQ(cfg.allow_anonymous, 1);
	config_free(&cfg);

	/* A bad value, whatever the source, stops the parse. */
	ASSERT_OK(setenv("SENTINEL_SYNC", "fast", 1));
	ASSERT_EQ(PARSE(&cfg, "serve"), -1);
	ASSERT_OK(setenv("SENTINEL_SYNC", "full", 1));
	ASSERT_OK(setenv("SENTINEL_ALLOW_ANONYMOUS", "si", 1));
	ASSERT_EQ(PARSE(&cfg, "serve"), -1);

	ASSERT_OK(unsetenv("SENTINEL_SYNC"));
	ASSERT_OK(unsetenv("SENTINEL_MAX_EVENT_BYTES"));
	ASSERT_OK(unsetenv("SENTINEL_RETAIN"));
	ASSERT_OK(unsetenv("SENTINEL_ALLOW_ANONYMOUS"));
	ASSERT_OK(PARSE(&cfg, "serve"));
	assert_defaults_but_listen(&cfg);
}

TEST(precedence)
{
	struct config cfg;
	char path[64];

	write_file(path, "listen = 127.0.0.1:9001\n"
			 "db = from-file.db\n"
			 "sync = full\n"
			 "verbose = true\n"
			 "cache-events = 10\n"
			 "retain = security=365d\n"
			 "retain = monitor=7d\n");

	/* The file alone. */
	ASSERT_OK(PARSE(&cfg, "--config", path));
	ASSERT_EQ(cfg.port, 9001);
	ASSERT_EQ(cfg.verbose, 1);
	ASSERT_EQ(cfg.retention.type_count, 2);
	config_free(&cfg);

	/* The environment overrides the file; the file names itself through
	 * SENTINEL_CONFIG too. */
	ASSERT_OK(setenv("SENTINEL_CONFIG", path, 1));
	ASSERT_OK(setenv("SENTINEL_DB", "from-env.db", 1));
	ASSERT_OK(setenv("SENTINEL_SYNC", "normal", 1));
	ASSERT_OK(setenv("SENTINEL_VERBOSE", "0", 1));
	ASSERT_OK(setenv("SENTINEL_RETAIN", "error=1d", 1));
	ASSERT_OK(PARSE_NOTHING(&cfg));
	ASSERT_STR_EQ(cfg.config_file, path);
	ASSERT_EQ(cfg.port, 9001);
	ASSERT_STR_EQ(cfg.db_path, "from-env.db");
	ASSERT_EQ(cfg.sync_full, 0);
	ASSERT_EQ(cfg.verbose, 0); /* "0" turns off what the file turned on */
	ASSERT_EQ(cfg.cache_events, 10);
	/* A repeatable option takes all its values from one source. */
	ASSERT_EQ(cfg.retention.type_count, 1);
	ASSERT_STR_EQ(cfg.retention.types[0].type, "error");
	config_free(&cfg);

	/* Flags override both. */
	ASSERT_OK(PARSE(&cfg, "--db", "from-flag.db", "--listen", ":9002", "--retain", "agent=1h",
			"--retain", "config=2h", "-v"));
	ASSERT_EQ(cfg.port, 9002);
	ASSERT_STR_EQ(cfg.db_path, "from-flag.db");
	ASSERT_EQ(cfg.sync_full, 0);
	ASSERT_EQ(cfg.verbose, 1);
	ASSERT_EQ(cfg.cache_events, 10);
	ASSERT_EQ(cfg.retention.type_count, 2);
	ASSERT_STR_EQ(cfg.retention.types[0].type, "agent");
	ASSERT_STR_EQ(cfg.retention.types[1].type, "config");
	config_free(&cfg);

	/* --config '' wins over SENTINEL_CONFIG: no file. */
	ASSERT_OK(PARSE(&cfg, "--config", ""));
	ASSERT_NULL(cfg.config_file);
	ASSERT_EQ(cfg.port, 8000);
	ASSERT_STR_EQ(cfg.db_path, "from-env.db");
	config_free(&cfg);

	/* A value that a higher source overrides must still be valid. */
	ASSERT_OK(setenv("SENTINEL_LISTEN", "nowhere", 1));
	ASSERT_EQ(PARSE(&cfg, "--listen", ":9003"), -1);
	ASSERT_OK(unsetenv("SENTINEL_LISTEN"));

	/* 16 origins from each of two sources: the limit holds per source. */
	char origins[16 * 24] = "";
	for (int i = 0; i < 16; i++)
		snprintf(origins + strlen(origins), sizeof origins - strlen(origins),
			 "%shttps://%d.example", i ? "," : "", i);
	ASSERT_OK(setenv("SENTINEL_ALLOW_ORIGIN", origins, 1));
	ASSERT_OK(PARSE(&cfg, "--allow-origin", "https://flag.example"));
	ASSERT_EQ(cfg.origin_count, 1);
	ASSERT_STR_EQ(cfg.origins[0], "https://flag.example");
	config_free(&cfg);
	ASSERT_OK(PARSE_NOTHING(&cfg));
	ASSERT_EQ(cfg.origin_count, 16);
	ASSERT_STR_EQ(cfg.origins[15], "https://15.example");
	config_free(&cfg);

	ASSERT_OK(unsetenv("SENTINEL_ALLOW_ORIGIN"));
	ASSERT_OK(unsetenv("SENTINEL_DB"));
	ASSERT_OK(unsetenv("SENTINEL_SYNC"));
	ASSERT_OK(unsetenv("SENTINEL_VERBOSE"));
	ASSERT_OK(unsetenv("SENTINEL_RETAIN"));
	ASSERT_OK(setenv("SENTINEL_CONFIG", "", 1));
	unlink(path);
}

TEST(check_config_command)
{
	struct config cfg;

	ASSERT_OK(PARSE(&cfg, "check-config", "--db", "x.db"));
	ASSERT_EQ(cfg.command, CONFIG_CHECK);
	ASSERT_STR_EQ(cfg.db_path, "x.db");
	ASSERT_EQ(PARSE(&cfg, "check-config", "--sync", "sometimes"), -1);
}

int
main(int argc, char **argv)
{
	/* Never the machine's configuration file: only the ones made here. */
	if (setenv("SENTINEL_CONFIG", "", 1))
		return 1;
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
		TEST_ENTRY(file_values),
		TEST_ENTRY(file_errors),
		TEST_ENTRY(environment),
		TEST_ENTRY(precedence),
		TEST_ENTRY(check_config_command),
	};

	return test_run(tests, argc, argv);
}
