/*
 * The configuration of sentinel-logd: every flag, its default and its
 * --help text come from one option table (config.c).
 */
#ifndef SENTINEL_CONFIG_H
#define SENTINEL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "cluster.h"
#include "retention.h"

enum config_command {
	CONFIG_SERVE,   /* run the server (the default) */
	CONFIG_MIGRATE, /* apply migrations to --db and exit */
	CONFIG_COMPACT, /* offline retention pass and VACUUM of --db */
	CONFIG_VERIFY,  /* check the hash chain of --db */
	CONFIG_EXIT,    /* --help or --version was printed: exit 0 */
};

struct config {
	enum config_command command;
	char host[256];                    /* --listen host part */
	int port;                          /* --listen port part */
	const char *db_path;               /* --db */
	int sync_full;                     /* --sync full */
	size_t event_max;                  /* --max-event-bytes */
	size_t body_max;                   /* --max-body-bytes */
	size_t cache_events;               /* --cache-events: events the live cache holds */
	size_t cache_bytes;                /* --cache-bytes */
	int verbose;                       /* --verbose */
	struct retention_policy retention; /* --retain-*, --retention-interval */
	const char *token_file;            /* --token-file */
	int allow_anonymous;               /* --allow-anonymous */
	const char *origins[16];           /* --allow-origin, repeatable */
	size_t origin_count;
	const char *tls_cert, *tls_key; /* --tls-cert, --tls-key */
	int handshake_timeout;          /* --handshake-timeout, seconds */
	int idle_timeout;               /* --idle-timeout, seconds */
	int max_connections;            /* --max-connections */
	int64_t sql_timeout_us;         /* --sql-timeout */
	int64_t sql_max_rows;           /* --sql-max-rows */
	int readers;                    /* --readers: threads of the reader pool */
	int json;                       /* --json (verify) */
	struct cluster_options cluster; /* --jetstream and --jetstream-*: urls NULL when off */
};

/*
 * Fill cfg from argv (strings in cfg point into argv). Prints --help and
 * --version output to stdout and errors to stderr. Returns 0, or -1 when
 * the arguments are wrong (after printing why).
 */
int config_parse(struct config *cfg, int argc, char **argv);

#endif
