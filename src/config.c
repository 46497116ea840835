/*
 * The option table: each flag's name, argument, default, help text and the
 * function that applies a value. Parsing, the defaults, --help, the
 * configuration file's keys and the environment variables are all derived
 * from it, so they cannot disagree.
 *
 * config_parse() first collects every setting, from the command line, the
 * configuration file and the environment, then applies them. For each
 * option only the settings of the highest source that gives it reach the
 * configuration; those of lower sources are applied to a scratch copy, so
 * that a bad value is reported wherever it is written.
 */
#include "config.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config_table.h"
#include "err.h"
#include "timestamp.h"
#include "units.h"
#include "url.h"
#include "version.h"

/* A value read from a file or the environment, owned by a struct config. */
struct config_string {
	struct config_string *next;
	char text[];
};

static int
refuse(char *why, const char *text)
{
	return err_set(why, ERR_INVAL, "%s", text);
}

/* "host:port", "[v6]:port" or ":port" (loopback). */
static int
set_listen(struct config *cfg, const char *arg, char *why)
{
	int rc = url_split_host_port(arg, cfg->host, sizeof cfg->host, &cfg->port, why);

	if (!rc && !cfg->host[0])
		strcpy(cfg->host, "127.0.0.1");
	return rc;
}

static int
set_db(struct config *cfg, const char *arg, char *why)
{
	if (!*arg)
		return refuse(why, "empty path");
	cfg->db_path = arg;
	return 0;
}

static int
set_backup_to(struct config *cfg, const char *arg, char *why)
{
	if (!*arg)
		return refuse(why, "empty path");
	cfg->backup_to = arg;
	return 0;
}

static int
set_restore_from(struct config *cfg, const char *arg, char *why)
{
	if (!*arg)
		return refuse(why, "empty path");
	cfg->restore_from = arg;
	return 0;
}

static int
set_sync(struct config *cfg, const char *arg, char *why)
{
	if (strcmp(arg, "normal") && strcmp(arg, "full"))
		return refuse(why, "expected normal or full");
	cfg->sync_full = !strcmp(arg, "full");
	return 0;
}

/* A size of at least 1 KiB into *out. */
static int
set_kib_size(size_t *out, const char *arg, char *why)
{
	size_t size;

	if (units_parse_size(arg, &size) || size < 1024)
		return refuse(why, "expected a size of at least 1024 bytes, e.g. 256KiB");
	*out = size;
	return 0;
}

static int
set_event_max(struct config *cfg, const char *arg, char *why)
{
	return set_kib_size(&cfg->event_max, arg, why);
}

static int
set_body_max(struct config *cfg, const char *arg, char *why)
{
	return set_kib_size(&cfg->body_max, arg, why);
}

static int
set_cache_bytes(struct config *cfg, const char *arg, char *why)
{
	return set_kib_size(&cfg->cache_bytes, arg, why);
}

static int
set_cache_events(struct config *cfg, const char *arg, char *why)
{
	long long n;

	if (units_parse_count(arg, 1, 1 << 24, &n))
		return refuse(why, "expected a number from 1 to 16777216");
	cfg->cache_events = (size_t)n;
	return 0;
}

/* A duration such as 90s or 7d into *out. */
static int
set_duration(int64_t *out, const char *arg, char *why)
{
	if (timestamp_parse_duration(arg, strlen(arg), out))
		return refuse(why, "expected a duration such as 90s, 10m, 2h or 7d");
	return 0;
}

static int
set_retain_age(struct config *cfg, const char *arg, char *why)
{
	return set_duration(&cfg->retention.max_age_us, arg, why);
}

static int
set_retention_interval(struct config *cfg, const char *arg, char *why)
{
	return set_duration(&cfg->retention.interval_us, arg, why);
}

static int
set_idempotency_window(struct config *cfg, const char *arg, char *why)
{
	if (!strcmp(arg, "0")) {
		cfg->retention.key_window_us = 0;
		return 0;
	}
	return set_duration(&cfg->retention.key_window_us, arg, why);
}

static int
set_retain_events(struct config *cfg, const char *arg, char *why)
{
	long long n;

	if (units_parse_count(arg, 1, INT64_MAX, &n))
		return refuse(why, "expected a positive number of events");
	cfg->retention.max_events = n;
	return 0;
}

static int
set_retain_bytes(struct config *cfg, const char *arg, char *why)
{
	size_t size;

	if (units_parse_size(arg, &size) || size < 1024 * 1024 || size > INT64_MAX)
		return refuse(why, "expected a size of at least 1MiB, e.g. 64MiB or 10GiB");
	cfg->retention.max_bytes = (int64_t)size;
	return 0;
}

static int
set_retain(struct config *cfg, const char *arg, char *why)
{
	return retention_add_type(&cfg->retention, arg, why);
}

static int
set_token_file(struct config *cfg, const char *arg, char *why)
{
	if (!*arg)
		return refuse(why, "empty path");
	cfg->token_file = arg;
	return 0;
}

static int
set_allow_anonymous(struct config *cfg, const char *arg, char *why)
{
	cfg->allow_anonymous = 1;
	return 0;
}

static int
set_allow_origin(struct config *cfg, const char *arg, char *why)
{
	if (cfg->origin_count == sizeof cfg->origins / sizeof cfg->origins[0])
		return refuse(why, "at most 16 origins");
	if (strncmp(arg, "http://", 7) && strncmp(arg, "https://", 8))
		return refuse(why, "expected an origin such as https://ops.example.com");
	cfg->origins[cfg->origin_count++] = arg;
	return 0;
}

static int
set_tls_cert(struct config *cfg, const char *arg, char *why)
{
	cfg->tls_cert = arg;
	return 0;
}

static int
set_tls_key(struct config *cfg, const char *arg, char *why)
{
	cfg->tls_key = arg;
	return 0;
}

/* Seconds from 1 to a day into *out. */
static int
set_seconds(int *out, const char *arg, char *why)
{
	long long n;

	if (units_parse_count(arg, 1, 86400, &n))
		return refuse(why, "expected seconds, 1 to 86400");
	*out = (int)n;
	return 0;
}

static int
set_handshake_timeout(struct config *cfg, const char *arg, char *why)
{
	return set_seconds(&cfg->handshake_timeout, arg, why);
}

static int
set_idle_timeout(struct config *cfg, const char *arg, char *why)
{
	return set_seconds(&cfg->idle_timeout, arg, why);
}

static int
set_max_connections(struct config *cfg, const char *arg, char *why)
{
	long long n;

	if (units_parse_count(arg, 1, 1000000, &n))
		return refuse(why, "expected 1 to 1000000");
	cfg->max_connections = (int)n;
	return 0;
}

static int
set_loki_max_scan(struct config *cfg, const char *arg, char *why)
{
	long long n;

	if (units_parse_count(arg, 1000, 100000000, &n))
		return refuse(why, "expected 1000 to 100000000");
	cfg->loki_max_scan = (int)n;
	return 0;
}

static int
set_jetstream(struct config *cfg, const char *arg, char *why)
{
	if (strncmp(arg, "nats://", 7) && strncmp(arg, "tls://", 6))
		return refuse(why, "expected nats://HOST:PORT URLs separated by commas");
	cfg->cluster.urls = arg;
	return 0;
}

static int
set_node_name(struct config *cfg, const char *arg, char *why)
{
	if (!*arg || strchr(arg, ' ') || strlen(arg) > 100)
		return refuse(why, "expected a name of 1 to 100 characters without spaces");
	cfg->cluster.node = arg;
	return 0;
}

static int
set_js_stream(struct config *cfg, const char *arg, char *why)
{
	if (!*arg || strcspn(arg, " .*>") != strlen(arg))
		return refuse(why,
			      "a stream name may not be empty or hold spaces, '.', '*' or '>'");
	cfg->cluster.stream = arg;
	return 0;
}

static int
set_js_subject(struct config *cfg, const char *arg, char *why)
{
	if (!*arg || strcspn(arg, " *>") != strlen(arg))
		return refuse(why, "expected one subject without spaces or wildcards");
	cfg->cluster.subject = arg;
	return 0;
}

static int
set_js_create(struct config *cfg, const char *arg, char *why)
{
	cfg->cluster.create = 1;
	return 0;
}

static int
set_js_replicas(struct config *cfg, const char *arg, char *why)
{
	long long n;

	if (units_parse_count(arg, 1, 5, &n))
		return refuse(why, "expected 1 to 5");
	cfg->cluster.replicas = (int)n;
	return 0;
}

static int
set_js_max_age(struct config *cfg, const char *arg, char *why)
{
	return set_duration(&cfg->cluster.max_age_us, arg, why);
}

static int
set_js_max_bytes(struct config *cfg, const char *arg, char *why)
{
	size_t size;

	if (units_parse_size(arg, &size) || size < 1024 * 1024 || size > INT64_MAX)
		return refuse(why, "expected a size of at least 1MiB, e.g. 10GiB");
	cfg->cluster.max_bytes = (int64_t)size;
	return 0;
}

static int
set_js_max_msgs(struct config *cfg, const char *arg, char *why)
{
	long long n;

	if (units_parse_count(arg, 1, INT64_MAX, &n))
		return refuse(why, "expected a positive number of events");
	cfg->cluster.max_msgs = n;
	return 0;
}

static int
set_js_dedupe_window(struct config *cfg, const char *arg, char *why)
{
	return set_duration(&cfg->cluster.dedupe_us, arg, why);
}

static int
set_js_creds(struct config *cfg, const char *arg, char *why)
{
	cfg->cluster.creds = arg;
	return 0;
}

static int
set_js_tls_ca(struct config *cfg, const char *arg, char *why)
{
	cfg->cluster.tls_ca = arg;
	return 0;
}

static int
set_js_tls_cert(struct config *cfg, const char *arg, char *why)
{
	cfg->cluster.tls_cert = arg;
	return 0;
}

static int
set_js_tls_key(struct config *cfg, const char *arg, char *why)
{
	cfg->cluster.tls_key = arg;
	return 0;
}

static int
set_js_ack_timeout(struct config *cfg, const char *arg, char *why)
{
	return set_duration(&cfg->cluster.ack_timeout_us, arg, why);
}

static int
set_js_max_lag(struct config *cfg, const char *arg, char *why)
{
	long long n;

	if (units_parse_count(arg, 0, INT64_MAX, &n))
		return refuse(why, "expected a number of events (0: no bound)");
	cfg->cluster.max_lag = n;
	return 0;
}

static int
set_sql_timeout(struct config *cfg, const char *arg, char *why)
{
	int64_t us;

	if (timestamp_parse_duration(arg, strlen(arg), &us) || us < 1000000 ||
	    us > 3600 * INT64_C(1000000))
		return refuse(why, "expected a duration from 1s to 1h, e.g. 5s or 2m");
	cfg->sql_timeout_us = us;
	return 0;
}

static int
set_sql_max_rows(struct config *cfg, const char *arg, char *why)
{
	long long n;

	if (units_parse_count(arg, 1, 100000000, &n))
		return refuse(why, "expected 1 to 100000000 rows");
	cfg->sql_max_rows = n;
	return 0;
}

static int
set_readers(struct config *cfg, const char *arg, char *why)
{
	long long n;

	if (units_parse_count(arg, 1, 64, &n))
		return refuse(why, "expected 1 to 64 threads");
	cfg->readers = (int)n;
	return 0;
}

static int
set_json(struct config *cfg, const char *arg, char *why)
{
	cfg->json = 1;
	return 0;
}

static int
set_verbose(struct config *cfg, const char *arg, char *why)
{
	cfg->verbose = 1;
	return 0;
}

static int
set_log_format(struct config *cfg, const char *arg, char *why)
{
	if (strcmp(arg, "text") && strcmp(arg, "json"))
		return refuse(why, "expected text or json");
	cfg->log_format = !strcmp(arg, "json") ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT;
	return 0;
}

/* The file is chosen before any value is applied (choose_file). */
static int
set_config(struct config *cfg, const char *arg, char *why)
{
	return 0;
}

#define HEADING(text)        \
	{                    \
		.help = text \
	}

static const struct config_option options[] = {
	HEADING("Options:"),
	{"config", 0, "FILE", NULL,
	 "read settings from FILE, one 'key = value' a line\n"
	 "with keys named as these options (see\n"
	 "sentinel-logd.conf(5)); default:\n" CONFIG_DEFAULT_FILE "\n"
	 "if it exists; --config '' reads none",
	 set_config},
	{"listen", 0, "HOST:PORT", "127.0.0.1:8000",
	 "address to listen on: an IPv4 address, [IPv6]\n"
	 "or a host name (resolved at start)",
	 set_listen},
	{"db", 0, "PATH", "data/sentinel.db", "store file, created with its folders if missing",
	 set_db},
	{"sync", 0, "normal|full", "normal",
	 "normal: an acknowledged event survives a crash of\n"
	 "the process; full: it also survives power loss\n"
	 "(an fsync per group commit)",
	 set_sync},
	{"max-event-bytes", 0, "SIZE", "256KiB", "largest event accepted", set_event_max},
	{"max-body-bytes", 0, "SIZE", "16MiB", "largest request body or ingest message",
	 set_body_max},
	{"cache-events", 0, "N", "65536",
	 "newest events kept in memory for the live feed;\n"
	 "older ones are read from the store",
	 set_cache_events},
	{"cache-bytes", 0, "SIZE", "64MiB", "memory bound of that cache", set_cache_bytes},
	{"idempotency-window", 0, "DUR", "24h",
	 "how long an ingest request's Idempotency-Key is kept:\n"
	 "a retry within it is answered again, not stored twice;\n"
	 "0 turns keys off",
	 set_idempotency_window},

	HEADING("Retention (combinable; none by default, the store then keeps everything):"),
	{"retain-age", 0, "DUR", NULL, "delete events whose timestamp is older than DUR",
	 set_retain_age},
	{"retain-events", 0, "N", NULL, "keep at most N events (the newest)", set_retain_events},
	{"retain-bytes", 0, "SIZE", NULL, "keep the store file under SIZE (plus a bounded WAL)",
	 set_retain_bytes},
	{"retain", 0, "TYPE=DUR", NULL,
	 "age for one type, overriding --retain-age; repeatable\n"
	 "(e.g. --retain security=365d --retain monitor=7d)",
	 set_retain},
	{"retention-interval", 0, "DUR", "10s",
	 "time between retention passes; a pass also starts\n"
	 "when a count or size bound is crossed",
	 set_retention_interval},

	HEADING("Backup and restore:"),
	{"to", 0, "FILE", NULL, "backup: the copy to write (replaced if it exists)", set_backup_to},
	{"from", 0, "FILE", NULL, "restore: the backup to copy into --db", set_restore_from},

	HEADING("Security:"),
	{"token-file", 0, "FILE", NULL,
	 "tokens, one 'TOKEN ROLE[,ROLE...]' a line (roles:\n"
	 "publish, subscribe, audit, admin); the variable\n"
	 "SENTINEL_TOKENS holds the same lines separated by ';'.\n"
	 "With tokens, every API and stream endpoint needs one\n"
	 "(Authorization: Bearer TOKEN, or ?token=TOKEN).\n"
	 "SIGHUP reloads them",
	 set_token_file},
	{"allow-anonymous", 0, NULL, NULL,
	 "allow listening on a non-loopback address without\n"
	 "tokens",
	 set_allow_anonymous},
	{"allow-origin", 0, "ORIGIN", NULL,
	 "also accept browser requests from this origin\n"
	 "(repeatable, e.g. https://ops.example.com); without\n"
	 "it only pages on this machine (localhost, 127.0.0.1,\n"
	 "[::1], any port) and the server's own are accepted;\n"
	 "requests without an Origin header are not affected",
	 set_allow_origin},
	{"tls-cert", 0, "FILE", NULL,
	 "serve https:// and wss:// with this PEM certificate\n"
	 "(SIGHUP reloads it and the key)",
	 set_tls_cert},
	{"tls-key", 0, "FILE", NULL, "the certificate's PEM private key (with --tls-cert)",
	 set_tls_key},
	{"handshake-timeout", 0, "SEC", "10", "time to finish an HTTP request or handshake",
	 set_handshake_timeout},
	{"max-connections", 0, "N", "10000",
	 "connections served at once; past it requests get\n"
	 "503 and upgrades are refused",
	 set_max_connections},
	{"idle-timeout", 0, "SEC", "60",
	 "close a WebSocket that answers no ping for this long;\n"
	 "pings are sent after half of it, and so are keepalives\n"
	 "on a quiet /api/stream",
	 set_idle_timeout},

	HEADING("Loki API (/loki/api/v1/...):"),
	{"loki-max-scan", 0, "N", "20000",
	 "events one query reads at most; a log query answers\n"
	 "with what it found by then, a metric query is refused",
	 set_loki_max_scan},
	HEADING("Auditing (POST /api/sql, GET /api/verify, the verify command):"),
	{"sql-timeout", 0, "DUR", "5s",
	 "time limit of a query, from its start to its last\n"
	 "row handed to the connection",
	 set_sql_timeout},
	{"sql-max-rows", 0, "N", "100000", "rows one query may return", set_sql_max_rows},
	{"readers", 0, "N", "2",
	 "threads, each with its own read-only connection, that\n"
	 "run queries and chain checks off the event loop",
	 set_readers},
	{"json", 0, NULL, NULL, "verify: print the report as JSON", set_json},

	HEADING("Cluster (several nodes on one replicated NATS JetStream stream):"),
	{"jetstream", 0, "URLS", NULL,
	 "run as a node of a cluster: the stream on these NATS\n"
	 "servers (nats://HOST:PORT, comma-separated) is the journal",
	 set_jetstream},
	{"node-name", 0, "NAME", NULL, "this node's name (default HOST:PORT of --listen)",
	 set_node_name},
	{"jetstream-stream", 0, "NAME", "SENTINEL", "the stream", set_js_stream},
	{"jetstream-subject", 0, "SUBJECT", "sentinel.events", "the subject events go to",
	 set_js_subject},
	{"jetstream-create", 0, NULL, NULL,
	 "create the stream when it does not exist, with the\n"
	 "replicas and limits of the next flags",
	 set_js_create},
	{"jetstream-replicas", 0, "N", "3", "copies of a created stream", set_js_replicas},
	{"jetstream-max-age", 0, "DUR", NULL, "a created stream keeps events this long",
	 set_js_max_age},
	{"jetstream-max-bytes", 0, "SIZE", NULL, "... at most this many bytes", set_js_max_bytes},
	{"jetstream-max-msgs", 0, "N", NULL, "... at most this many events", set_js_max_msgs},
	{"jetstream-dedupe-window", 0, "DUR", "2m",
	 "a created stream drops a resent event within this", set_js_dedupe_window},
	{"jetstream-creds", 0, "FILE", NULL, "NATS credentials (JWT and NKey) file", set_js_creds},
	{"jetstream-tls-ca", 0, "FILE", NULL, "verify the NATS servers with this CA (PEM)",
	 set_js_tls_ca},
	{"jetstream-tls-cert", 0, "FILE", NULL, "client certificate for NATS (PEM)",
	 set_js_tls_cert},
	{"jetstream-tls-key", 0, "FILE", NULL, "its private key (PEM)", set_js_tls_key},
	{"jetstream-ack-timeout", 0, "DUR", "10s",
	 "answer 503 when the stream has not acknowledged\n"
	 "every event of a request by then",
	 set_js_ack_timeout},
	{"jetstream-max-lag", 0, "N", "10000",
	 "/healthz answers 503 while this node is more events\n"
	 "behind the stream (0: no bound)",
	 set_js_max_lag},

	HEADING(""),
	{"log-format", 0, "text|json", "text",
	 "text: 'TIME LEVEL MESSAGE' lines; json: one JSON\n"
	 "object a line (ts, level, msg). Under systemd the\n"
	 "lines also carry their syslog priority",
	 set_log_format},
	{"verbose", 'v', NULL, NULL, "log debug messages", set_verbose},
	{"help", 'h', NULL, NULL, "show this help and exit", NULL},
	{"version", 'V', NULL, NULL, "show the version and exit", NULL},
};

#define OPTION_COUNT (sizeof options / sizeof options[0])

const struct config_option *const config__options = options;
const size_t config__option_count = OPTION_COUNT;

int
config__repeatable(const struct config_option *o)
{
	return o->set == set_retain || o->set == set_allow_origin;
}

static const char usage_head[] =
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
	"                          (refused while a server runs on --db)\n"
	"  backup                  copy --db to --to, consistent also while a server\n"
	"                          runs on --db\n"
	"  restore                 replace --db with a copy of the backup --from and\n"
	"                          give it a new epoch, so that clients start over\n"
	"                          (refused while a server runs on --db)\n"
	"  verify                  check the hash chain of --db and report the first\n"
	"                          id at which it breaks, or its head when intact;\n"
	"                          exit 0 intact, 1 broken, 3 the store cannot be read\n"
	"  check-config            check the configuration, print it as a\n"
	"                          configuration file (secrets hidden) and exit\n";

static const char usage_tail[] =
	"\n"
	"SIZE is a number of bytes with an optional KiB, MiB or GiB suffix.\n"
	"DUR is a number with a unit: s, m, h or d (90s, 10m, 2h, 7d).\n"
	"\n"
	"Each option can also be set by an environment variable: SENTINEL_ and its\n"
	"name in capitals, '_' for '-' (SENTINEL_LISTEN, SENTINEL_RETAIN_AGE...;\n"
	"the values of a repeatable option separated by commas), and by a key of\n"
	"the configuration file. Flags override variables, which override the file.\n";

/* Help lines start in this column. */
#define HELP_COLUMN 26

/* Print --help, generated from the table. */
static void
print_usage(FILE *out)
{
	fputs(usage_head, out);
	for (size_t i = 0; i < OPTION_COUNT; i++) {
		const struct config_option *o = &options[i];
		char left[64];
		int n;

		if (!o->name) {
			fprintf(out, "\n%s\n", o->help);
			continue;
		}
		if (o->short_name)
			n = snprintf(left, sizeof left, "  -%c, --%s", o->short_name, o->name);
		else
			n = snprintf(left, sizeof left, "  --%s%s%s", o->name, o->arg ? " " : "",
				     o->arg ? o->arg : "");
		fputs(left, out);
		for (const char *line = o->help; *line;) {
			size_t len = strcspn(line, "\n");
			if (n >= HELP_COLUMN) {
				fputc('\n', out);
				n = 0;
			}
			fprintf(out, "%*s%.*s", HELP_COLUMN - n, "", (int)len, line);
			n = HELP_COLUMN + (int)len;
			line += len + (line[len] == '\n');
		}
		if (o->def) {
			int need = (int)strlen(o->def) + 11; /* " (default X)" */
			if (n + need > 80)
				fprintf(out, "\n%*s(default %s)", HELP_COLUMN, "", o->def);
			else
				fprintf(out, " (default %s)", o->def);
		}
		fputc('\n', out);
	}
	fputs(usage_tail, out);
}

int
config__add(struct config_settings *set, const struct config_option *opt, const char *value,
	    enum config_rank rank, int line)
{
	if (set->count == set->cap) {
		size_t cap = set->cap ? 2 * set->cap : 32;
		struct config_setting *v = realloc(set->v, cap * sizeof *v);
		if (!v)
			return ERR_NOMEM;
		set->v = v;
		set->cap = cap;
	}
	set->v[set->count++] = (struct config_setting){opt, value, rank, line};
	return 0;
}

/*
 * May o be set by a configuration file or a variable too? Not --config,
 * which names the file, nor the flags of one command (backup's --to,
 * restore's --from), which a file or variable would give every command.
 */
static int
lasting(const struct config_option *o)
{
	return o->name && o->set && o->set != set_config && o->set != set_backup_to &&
	       o->set != set_restore_from;
}

const struct config_option *
config__settable(const char *name, size_t len)
{
	for (size_t i = 0; i < OPTION_COUNT; i++) {
		const struct config_option *o = &options[i];
		if (lasting(o) && strlen(o->name) == len && !memcmp(o->name, name, len))
			return o;
	}
	return NULL;
}

void
config__env_name(const struct config_option *o, char *out)
{
	snprintf(out, 64, "SENTINEL_%s", o->name);
	for (char *p = out + 9; *p; p++)
		*p = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
}

char *
config__keep(struct config *cfg, const char *s, size_t len)
{
	struct config_string *cs = malloc(sizeof *cs + len + 1);

	if (!cs)
		return NULL;
	memcpy(cs->text, s, len);
	cs->text[len] = '\0';
	cs->next = cfg->strings;
	cfg->strings = cs;
	return cs->text;
}

void
config_free(struct config *cfg)
{
	while (cfg->strings) {
		struct config_string *next = cfg->strings->next;
		free(cfg->strings);
		cfg->strings = next;
	}
	cfg->config_file = NULL;
}

/* "true" and its synonyms 1, "false" and its 0, anything else -1. */
static int
parse_bool(const char *s)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i]))
			return 1;
		if (!strcasecmp(s, no[i]))
			return 0;
	}
	return -1;
}

/* Say which setting was refused and why, naming where it was written. */
static void
report(const struct config_setting *s, const char *file, const char *why)
{
	const char *value = s->value ? s->value : "";
	char env[64];

	switch (s->rank) {
	case CONFIG_FROM_FILE:
		fprintf(stderr, "sentinel-logd: %s:%d: invalid %s '%s': %s\n", file, s->line,
			s->opt->name, value, why);
		break;
	case CONFIG_FROM_ENV:
		config__env_name(s->opt, env);
		fprintf(stderr, "sentinel-logd: invalid %s '%s': %s\n", env, value, why);
		break;
	default:
		fprintf(stderr, "sentinel-logd: invalid --%s '%s': %s\n", s->opt->name, value, why);
		fprintf(stderr, "Try 'sentinel-logd --help'.\n");
		break;
	}
}

/* Apply one setting to cfg; print why when refused. */
static int
apply(struct config *cfg, const struct config_setting *s, const char *file)
{
	const char *value = s->value;
	char why[ERRMSG_SIZE];

	if (!s->opt->arg && value) {
		/* A switch from the file or the environment: true or false. */
		int on = parse_bool(value);
		if (on < 0) {
			report(s, file, "expected true or false");
			return -1;
		}
		if (!on)
			return 0;
		value = NULL;
	}
	if (!s->opt->set(cfg, value, why))
		return 0;
	report(s, file, why);
	return -1;
}

/* Reset cfg to the defaults of the table. */
static void
set_defaults(struct config *cfg)
{
	char why[ERRMSG_SIZE];

	memset(cfg, 0, sizeof *cfg);
	cfg->command = CONFIG_SERVE;
	for (size_t i = 0; i < OPTION_COUNT; i++)
		if (options[i].def && options[i].set(cfg, options[i].def, why)) {
			fprintf(stderr, "sentinel-logd: bad default of --%s: %s\n", options[i].name,
				why);
			abort(); /* a programming error, caught by every test */
		}
}

/* The command named by argv[1], if any; returns 1 when one was taken. */
static int
take_command(struct config *cfg, int argc, char **argv, int *bad)
{
	static const struct {
		const char *name;
		enum config_command command;
	} commands[] = {
		{"serve", CONFIG_SERVE},     {"migrate", CONFIG_MIGRATE},
		{"compact", CONFIG_COMPACT}, {"check-config", CONFIG_CHECK},
		{"backup", CONFIG_BACKUP},   {"restore", CONFIG_RESTORE},
		{"verify", CONFIG_VERIFY},
	};

	*bad = 0;
	if (argc < 2 || argv[1][0] == '-')
		return 0;
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (!strcmp(argv[1], commands[i].name)) {
			cfg->command = commands[i].command;
			return 1;
		}
	}
	fprintf(stderr, "sentinel-logd: unknown command '%s'\nTry 'sentinel-logd --help'.\n",
		argv[1]);
	*bad = 1;
	return 0;
}

/*
 * Collect the flags of argv into set. Returns 0; 1 after printing --help or
 * --version; -1 after printing what is wrong.
 */
static int
read_args(struct config *cfg, int argc, char **argv, struct config_settings *set)
{
	struct option longopts[OPTION_COUNT + 1];
	char shortopts[2 * OPTION_COUNT + 2] = ":";
	size_t nlong = 0, nshort = 1;
	int c, index;

	/* getopt's tables from ours: val is the option's index in the table. */
	for (size_t i = 0; i < OPTION_COUNT; i++) {
		if (!options[i].name)
			continue;
		longopts[nlong++] = (struct option){
			options[i].name, options[i].arg ? required_argument : no_argument, NULL,
			(int)i + 256};
		if (options[i].short_name)
			shortopts[nshort++] = (char)options[i].short_name;
	}
	longopts[nlong] = (struct option){NULL, 0, NULL, 0};
	shortopts[nshort] = '\0';

	optind = 0; /* 0, not 1: a full reset of getopt's state in glibc */
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, &index)) != -1) {
		const struct config_option *o = NULL;

		if (c >= 256) {
			o = &options[c - 256];
		} else {
			for (size_t i = 0; i < OPTION_COUNT && !o; i++)
				if (options[i].name && options[i].short_name == c)
					o = &options[i];
		}
		if (c == ':') {
			fprintf(stderr,
				"sentinel-logd: option '%s' needs a value\n"
				"Try 'sentinel-logd --help'.\n",
				argv[optind - 1]);
			return -1;
		}
		if (!o) {
			fprintf(stderr,
				"sentinel-logd: unknown option '%s'\n"
				"Try 'sentinel-logd --help'.\n",
				argv[optind - 1]);
			return -1;
		}
		if (!strcmp(o->name, "help")) {
			print_usage(stdout);
			cfg->command = CONFIG_EXIT;
			return 1;
		}
		if (!strcmp(o->name, "version")) {
			printf("sentinel-logd %s\n", SENTINEL_VERSION);
			cfg->command = CONFIG_EXIT;
			return 1;
		}
		if (config__add(set, o, optarg, CONFIG_FROM_ARGS, 0)) {
			fprintf(stderr, "sentinel-logd: out of memory\n");
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
	return 0;
}

/*
 * The configuration file to read: --config, else SENTINEL_CONFIG, else the
 * default one if it exists. NULL for none (an empty name asks for none).
 */
static const char *
choose_file(const struct config_settings *set)
{
	const char *path = NULL;

	for (size_t i = 0; i < set->count; i++)
		if (set->v[i].opt->set == set_config)
			path = set->v[i].value;
	if (!path)
		path = getenv("SENTINEL_CONFIG");
	if (!path)
		return access(CONFIG_DEFAULT_FILE, F_OK) == 0 ? CONFIG_DEFAULT_FILE : NULL;
	return *path ? path : NULL;
}

/* Add the value of o's environment variable v: for a repeatable option,
 * each of its comma-separated values. */
static int
add_env(struct config *cfg, struct config_settings *set, const struct config_option *o,
	const char *v)
{
	do {
		size_t len = config__repeatable(o) ? strcspn(v, ",") : strlen(v);
		const char *copy;

		if (len || !(config__repeatable(o))) {
			copy = config__keep(cfg, v, len);
			if (!copy || config__add(set, o, copy, CONFIG_FROM_ENV, 0)) {
				fprintf(stderr, "sentinel-logd: out of memory\n");
				return -1;
			}
		}
		v += len + (v[len] == ',');
	} while (*v);
	return 0;
}

/* Collect SENTINEL_<OPTION> variables into set. */
static int
read_env(struct config *cfg, struct config_settings *set)
{
	char name[64];

	for (size_t i = 0; i < OPTION_COUNT; i++) {
		const struct config_option *o = &options[i];
		const char *v;

		if (!lasting(o))
			continue;
		config__env_name(o, name);
		v = getenv(name);
		if (v && add_env(cfg, set, o, v))
			return -1;
	}
	return 0;
}

/*
 * Apply every setting: to cfg when its source is the highest that sets its
 * option (top[], filled here), else to a scratch configuration, only to
 * validate it. Sources are applied lowest first, each on fresh scratch, so
 * that the limits of a repeatable option hold per source.
 */
static int
apply_all(struct config *cfg, const struct config_settings *set, enum config_rank *top)
{
	struct config scratch;

	for (size_t i = 0; i < OPTION_COUNT; i++)
		top[i] = CONFIG_FROM_DEFAULT;
	for (size_t i = 0; i < set->count; i++) {
		size_t k = (size_t)(set->v[i].opt - options);
		if (set->v[i].rank > top[k])
			top[k] = set->v[i].rank;
	}
	for (int rank = CONFIG_FROM_FILE; rank <= CONFIG_FROM_ARGS; rank++) {
		set_defaults(&scratch);
		for (size_t i = 0; i < set->count; i++) {
			const struct config_setting *s = &set->v[i];
			if ((int)s->rank != rank)
				continue;
			if (apply(top[s->opt - options] == s->rank ? cfg : &scratch, s,
				  cfg->config_file))
				return -1;
		}
	}
	return 0;
}

/* One line of check-config: "key = value", then where it came from. */
static void
print_value(const char *name, const char *value, const char *from)
{
	int n = printf("%s = %s", name, value);

	printf("%*s # %s\n", n < 40 ? 40 - n : 0, "", from);
}

/* check-config: the effective configuration, written as a configuration file. */
static void
print_effective(const struct config *cfg, const struct config_settings *set,
		const enum config_rank *top)
{
	printf("# sentinel-logd %s: the effective configuration\n", SENTINEL_VERSION);
	printf("# configuration file: %s\n", cfg->config_file ? cfg->config_file : "none");
	for (size_t i = 0; i < OPTION_COUNT; i++) {
		const struct config_option *o = &options[i];

		if (!o->name) {
			printf(*o->help ? "\n# %s\n" : "\n", o->help);
			continue;
		}
		if (!lasting(o))
			continue;
		if (top[i] == CONFIG_FROM_DEFAULT) {
			if (o->def || !o->arg)
				print_value(o->name, o->def ? o->def : "false", "default");
			else
				printf("# %s =\n", o->name);
			continue;
		}
		for (size_t k = 0; k < set->count; k++) {
			const struct config_setting *s = &set->v[k];
			char from[64];

			if (s->opt != o || s->rank != top[i])
				continue;
			if (s->rank == CONFIG_FROM_FILE)
				snprintf(from, sizeof from, "line %d", s->line);
			else if (s->rank == CONFIG_FROM_ENV)
				config__env_name(o, from);
			else
				snprintf(from, sizeof from, "--%s", o->name);
			print_value(o->name,
				    o->arg                              ? s->value
				    : !s->value || parse_bool(s->value) ? "true"
									: "false",
				    from);
		}
	}
}

int
config_parse(struct config *cfg, int argc, char **argv)
{
	struct config_settings set = {0};
	enum config_rank top[OPTION_COUNT];
	const char *file;
	int bad, rc = -1;

	set_defaults(cfg);
	if (take_command(cfg, argc, argv, &bad)) {
		argv++;
		argc--;
	} else if (bad) {
		return -1;
	}
	switch (read_args(cfg, argc, argv, &set)) {
	case 0:
		break;
	case 1:
		rc = 0; /* --help or --version */
			/* fall through */
	default:
		goto out;
	}
	file = choose_file(&set);
	if ((file && config_file_read(cfg, file, &set)) || read_env(cfg, &set) ||
	    apply_all(cfg, &set, top))
		goto out;
	if (cfg->event_max > cfg->body_max)
		cfg->event_max = cfg->body_max;
	if (!cfg->tls_cert != !cfg->tls_key) {
		fprintf(stderr, "sentinel-logd: --tls-cert and --tls-key go together\n");
		goto out;
	}
	if (!cfg->cluster.tls_cert != !cfg->cluster.tls_key) {
		fprintf(stderr, "sentinel-logd: --jetstream-tls-cert and --jetstream-tls-key go "
				"together\n");
		goto out;
	}
	if ((cfg->command == CONFIG_BACKUP) != !!cfg->backup_to ||
	    (cfg->command == CONFIG_RESTORE) != !!cfg->restore_from) {
		fprintf(stderr,
			"sentinel-logd: 'backup' needs --to FILE and 'restore' needs --from "
			"FILE, and only they take them\n"
			"Try 'sentinel-logd --help'.\n");
		goto out;
	}
	if (cfg->command == CONFIG_CHECK)
		print_effective(cfg, &set, top);
	rc = 0;
out:
	free(set.v);
	if (rc)
		config_free(cfg);
	return rc;
}
