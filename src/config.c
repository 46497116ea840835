/* Command-line parsing: every flag, its default, and --help. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ingest.h"
#include "timestamp.h"
#include "version.h"

static const char usage[] =
	"Usage: sentinel-logd [COMMAND] [OPTIONS]\n"
	"\n"
	"A log database: producers post JSON events, every event is committed to a\n"
	"WAL-mode SQLite journal before it is broadcast, and WebSocket clients get\n"
	"the live feed at ws://HOST:PORT/ws/logs.\n"
	"\n"
	"Commands:\n"
	"  serve                   run the server (the default)\n"
	"  migrate                 apply pending schema migrations to --db and exit\n"
	"  compact                 offline: apply the --retain-* policies to --db in\n"
	"                          full, VACUUM it and truncate its WAL, then exit\n"
	"                          (stop the server first)\n"
	"\n"
	"Options:\n"
	"  --listen HOST:PORT      address to listen on (default 127.0.0.1:8000)\n"
	"  --db PATH               store file, created with its folders if missing\n"
	"                          (default data/sentinel.db)\n"
	"  --sync normal|full      normal: an acknowledged event survives a crash of\n"
	"                          the process; full: it also survives power loss\n"
	"                          (an fsync per group commit). Default normal.\n"
	"  --max-event-bytes SIZE  largest event accepted (default 256KiB)\n"
	"  --max-body-bytes SIZE   largest request body or ingest message\n"
	"                          (default 16MiB)\n"
	"  --cache-events N        newest events kept in memory for the live feed\n"
	"                          (default 65536); older ones are read from the store\n"
	"  --cache-bytes SIZE      memory bound of that cache (default 64MiB)\n"
	"\n"
	"Retention (combinable; none by default, the store then keeps everything):\n"
	"  --retain-age DUR        delete events whose timestamp is older than DUR\n"
	"  --retain-events N       keep at most N events (the newest)\n"
	"  --retain-bytes SIZE     keep the store file under SIZE (plus a bounded WAL)\n"
	"  --retain TYPE=DUR       age for one type, overriding --retain-age; repeatable\n"
	"                          (e.g. --retain security=365d --retain monitor=7d)\n"
	"  --retention-interval DUR  time between retention passes (default 10s); a\n"
	"                          pass also starts when a count or size bound is crossed\n"
	"\n"
	"Security:\n"
	"  --token-file FILE       tokens, one 'TOKEN ROLE[,ROLE...]' a line (roles:\n"
	"                          publish, subscribe, admin); the variable\n"
	"                          SENTINEL_TOKENS holds the same lines separated by ';'.\n"
	"                          With tokens, every API and stream endpoint needs one\n"
	"                          (Authorization: Bearer TOKEN, or ?token=TOKEN)\n"
	"  --allow-anonymous       allow listening on a non-loopback address without\n"
	"                          tokens\n"
	"  --allow-origin ORIGIN   accept browser requests only from these origins\n"
	"                          (repeatable, e.g. https://ops.example.com); requests\n"
	"                          without an Origin header are not affected\n"
	"  --tls-cert FILE, --tls-key FILE  serve https:// and wss:// (PEM files)\n"
	"  --handshake-timeout SEC time to finish an HTTP request or handshake (10)\n"
	"  --max-connections N     connections served at once (default 10000); past\n"
	"                          it requests get 503 and upgrades are refused\n"
	"  --idle-timeout SEC      close a WebSocket that answers no ping for this long;\n"
	"                          pings are sent after half of it (60)\n"
	"\n"
	"  -v, --verbose           log debug messages\n"
	"  -h, --help              show this help and exit\n"
	"  -V, --version           show the version and exit\n"
	"\n"
	"SIZE is a number of bytes with an optional KiB, MiB or GiB suffix.\n"
	"DUR is a number with a unit: s, m, h or d (90s, 10m, 2h, 7d).\n";

int
config_parse_size(const char *text, size_t *out)
{
	char *end;
	unsigned long long n;
	size_t mult = 1;

	if (!text || *text < '0' || *text > '9') /* strtoull would skip spaces and take '-' */
		return ERR_INVAL;
	errno = 0;
	n = strtoull(text, &end, 10);
	if (errno || end == text)
		return ERR_INVAL;
	if (!strcmp(end, "KiB") || !strcmp(end, "K") || !strcmp(end, "k"))
		mult = 1024;
	else if (!strcmp(end, "MiB") || !strcmp(end, "M"))
		mult = 1024 * 1024;
	else if (!strcmp(end, "GiB") || !strcmp(end, "G"))
		mult = 1024 * 1024 * 1024;
	else if (*end)
		return ERR_INVAL;
	if (n > SIZE_MAX / mult)
		return ERR_INVAL;
	*out = (size_t)(n * mult);
	return 0;
}

/* Split "host:port", "[v6]:port" or ":port" into cfg. */
static int
parse_listen(struct config *cfg, const char *arg)
{
	const char *colon = strrchr(arg, ':');
	const char *host = arg;
	size_t hlen;
	char *end;
	long port;

	if (!colon)
		return -1;
	hlen = (size_t)(colon - arg);
	if (hlen >= 2 && arg[0] == '[' && arg[hlen - 1] == ']') {
		host++;
		hlen -= 2;
	}
	if (hlen >= sizeof cfg->host)
		return -1;
	if (colon[1] < '0' || colon[1] > '9')
		return -1;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || port > 65535)
		return -1;
	if (hlen == 0) {
		strcpy(cfg->host, "127.0.0.1");
	} else {
		memcpy(cfg->host, host, hlen);
		cfg->host[hlen] = '\0';
	}
	cfg->port = (int)port;
	return 0;
}

static int
bad(const char *flag, const char *value, const char *why)
{
	fprintf(stderr, "sentinel-logd: invalid %s '%s': %s\n", flag, value, why);
	fprintf(stderr, "Try 'sentinel-logd --help'.\n");
	return -1;
}

int
config_parse(struct config *cfg, int argc, char **argv)
{
	enum {
		OPT_LISTEN = 256,
		OPT_DB,
		OPT_SYNC,
		OPT_EVENT_MAX,
		OPT_BODY_MAX,
		OPT_CACHE_EVENTS,
		OPT_CACHE_BYTES,
		OPT_RETAIN_AGE,
		OPT_RETAIN_EVENTS,
		OPT_RETAIN_BYTES,
		OPT_RETAIN,
		OPT_RETENTION_INTERVAL,
		OPT_TOKEN_FILE,
		OPT_ALLOW_ANONYMOUS,
		OPT_ALLOW_ORIGIN,
		OPT_TLS_CERT,
		OPT_TLS_KEY,
		OPT_HANDSHAKE_TIMEOUT,
		OPT_IDLE_TIMEOUT,
		OPT_MAX_CONNECTIONS
	};
	static const struct option options[] = {
		{"listen", required_argument, NULL, OPT_LISTEN},
		{"db", required_argument, NULL, OPT_DB},
		{"sync", required_argument, NULL, OPT_SYNC},
		{"max-event-bytes", required_argument, NULL, OPT_EVENT_MAX},
		{"max-body-bytes", required_argument, NULL, OPT_BODY_MAX},
		{"cache-events", required_argument, NULL, OPT_CACHE_EVENTS},
		{"cache-bytes", required_argument, NULL, OPT_CACHE_BYTES},
		{"retain-age", required_argument, NULL, OPT_RETAIN_AGE},
		{"retain-events", required_argument, NULL, OPT_RETAIN_EVENTS},
		{"retain-bytes", required_argument, NULL, OPT_RETAIN_BYTES},
		{"retain", required_argument, NULL, OPT_RETAIN},
		{"retention-interval", required_argument, NULL, OPT_RETENTION_INTERVAL},
		{"token-file", required_argument, NULL, OPT_TOKEN_FILE},
		{"allow-anonymous", no_argument, NULL, OPT_ALLOW_ANONYMOUS},
		{"allow-origin", required_argument, NULL, OPT_ALLOW_ORIGIN},
		{"tls-cert", required_argument, NULL, OPT_TLS_CERT},
		{"tls-key", required_argument, NULL, OPT_TLS_KEY},
		{"handshake-timeout", required_argument, NULL, OPT_HANDSHAKE_TIMEOUT},
		{"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
		{"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c;

	memset(cfg, 0, sizeof *cfg);
	cfg->command = CONFIG_SERVE;
	strcpy(cfg->host, "127.0.0.1");
	cfg->port = 8000;
	cfg->db_path = "data/sentinel.db";
	cfg->event_max = INGEST_EVENT_MAX_DEFAULT;
	cfg->body_max = INGEST_BODY_MAX_DEFAULT;
	cfg->cache_events = 65536;
	cfg->cache_bytes = 64 * 1024 * 1024;
	cfg->retention.interval_us = INT64_C(10000000);
	cfg->handshake_timeout = 10;
	cfg->idle_timeout = 60;
	cfg->max_connections = 10000;

	if (argc > 1 && argv[1][0] != '-') {
		if (!strcmp(argv[1], "serve"))
			cfg->command = CONFIG_SERVE;
		else if (!strcmp(argv[1], "migrate"))
			cfg->command = CONFIG_MIGRATE;
		else if (!strcmp(argv[1], "compact"))
			cfg->command = CONFIG_COMPACT;
		else {
			fprintf(stderr,
				"sentinel-logd: unknown command '%s'\n"
				"Try 'sentinel-logd --help'.\n",
				argv[1]);
			return -1;
		}
		argv++;
		argc--;
	}

	optind = 0; /* 0, not 1: a full reset of getopt's state in glibc */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":vhV", options, NULL)) != -1) {
		size_t size;
		switch (c) {
		case OPT_LISTEN:
			if (parse_listen(cfg, optarg))
				return bad("--listen", optarg,
					   "expected HOST:PORT, e.g. 127.0.0.1:8000");
			break;
		case OPT_DB:
			if (!*optarg)
				return bad("--db", optarg, "empty path");
			cfg->db_path = optarg;
			break;
		case OPT_SYNC:
			if (!strcmp(optarg, "normal"))
				cfg->sync_full = 0;
			else if (!strcmp(optarg, "full"))
				cfg->sync_full = 1;
			else
				return bad("--sync", optarg, "expected normal or full");
			break;
		case OPT_EVENT_MAX:
		case OPT_BODY_MAX:
		case OPT_CACHE_BYTES:
			if (config_parse_size(optarg, &size) || size < 1024)
				return bad(c == OPT_EVENT_MAX  ? "--max-event-bytes"
					   : c == OPT_BODY_MAX ? "--max-body-bytes"
							       : "--cache-bytes",
					   optarg,
					   "expected a size of at least 1024 bytes, e.g. 256KiB");
			if (c == OPT_EVENT_MAX)
				cfg->event_max = size;
			else if (c == OPT_BODY_MAX)
				cfg->body_max = size;
			else
				cfg->cache_bytes = size;
			break;
		case OPT_CACHE_EVENTS:
			if (config_parse_size(optarg, &size) || size < 1 || size > (1u << 24))
				return bad("--cache-events", optarg,
					   "expected a number from 1 to 16777216");
			cfg->cache_events = size;
			break;
		case OPT_RETAIN_AGE:
		case OPT_RETENTION_INTERVAL: {
			int64_t us;
			if (timestamp_parse_duration(optarg, strlen(optarg), &us))
				return bad(c == OPT_RETAIN_AGE ? "--retain-age"
							       : "--retention-interval",
					   optarg,
					   "expected a duration such as 90s, 10m, 2h or 7d");
			if (c == OPT_RETAIN_AGE)
				cfg->retention.max_age_us = us;
			else
				cfg->retention.interval_us = us;
			break;
		}
		case OPT_RETAIN_EVENTS:
			if (config_parse_size(optarg, &size) || size < 1 || strpbrk(optarg, "KMGk"))
				return bad("--retain-events", optarg,
					   "expected a positive number of events");
			cfg->retention.max_events = (int64_t)size;
			break;
		case OPT_RETAIN_BYTES:
			if (config_parse_size(optarg, &size) || size < 1024 * 1024)
				return bad("--retain-bytes", optarg,
					   "expected a size of at least 1MiB, e.g. 64MiB or 10GiB");
			cfg->retention.max_bytes = (int64_t)size;
			break;
		case OPT_RETAIN: {
			char why[RETENTION_ERRMSG_SIZE];
			if (retention_add_type(&cfg->retention, optarg, why))
				return bad("--retain", optarg, why);
			break;
		}
		case OPT_TOKEN_FILE:
			cfg->token_file = optarg;
			break;
		case OPT_ALLOW_ANONYMOUS:
			cfg->allow_anonymous = 1;
			break;
		case OPT_ALLOW_ORIGIN:
			if (cfg->origin_count == sizeof cfg->origins / sizeof cfg->origins[0])
				return bad("--allow-origin", optarg, "at most 16 origins");
			if (strncmp(optarg, "http://", 7) && strncmp(optarg, "https://", 8))
				return bad("--allow-origin", optarg,
					   "expected an origin such as https://ops.example.com");
			cfg->origins[cfg->origin_count++] = optarg;
			break;
		case OPT_TLS_CERT:
			cfg->tls_cert = optarg;
			break;
		case OPT_TLS_KEY:
			cfg->tls_key = optarg;
			break;
		case OPT_HANDSHAKE_TIMEOUT:
		case OPT_IDLE_TIMEOUT:
			if (config_parse_size(optarg, &size) || size < 1 || size > 86400 ||
			    strpbrk(optarg, "KMGk"))
				return bad(c == OPT_IDLE_TIMEOUT ? "--idle-timeout"
								 : "--handshake-timeout",
					   optarg, "expected seconds, 1 to 86400");
			if (c == OPT_IDLE_TIMEOUT)
				cfg->idle_timeout = (int)size;
			else
				cfg->handshake_timeout = (int)size;
			break;
		case OPT_MAX_CONNECTIONS:
			if (config_parse_size(optarg, &size) || size < 1 || size > 1000000 ||
			    strpbrk(optarg, "KMGk"))
				return bad("--max-connections", optarg, "expected 1 to 1000000");
			cfg->max_connections = (int)size;
			break;
		case 'v':
			cfg->verbose = 1;
			break;
		case 'h':
			fputs(usage, stdout);
			cfg->command = CONFIG_EXIT;
			return 0;
		case 'V':
			printf("sentinel-logd %s\n", SENTINEL_VERSION);
			cfg->command = CONFIG_EXIT;
			return 0;
		case ':':
			fprintf(stderr,
				"sentinel-logd: option '%s' needs a value\n"
				"Try 'sentinel-logd --help'.\n",
				argv[optind - 1]);
			return -1;
		default:
			fprintf(stderr,
				"sentinel-logd: unknown option '%s'\n"
				"Try 'sentinel-logd --help'.\n",
				argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
			"sentinel-logd: unexpected argument '%s'\n"
			"Try 'sentinel-logd --help'.\n",
			argv[optind]);
		return -1;
	}
	if (cfg->event_max > cfg->body_max)
		cfg->event_max = cfg->body_max;
	if (!cfg->tls_cert != !cfg->tls_key) {
		fprintf(stderr, "sentinel-logd: --tls-cert and --tls-key go together\n");
		return -1;
	}
	return 0;
}
