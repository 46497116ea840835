/*
 * The configuration of sentinel-logd: every flag, its default and its
 * --help text come from one option table (config.c), and so do the keys of
 * the configuration file (config_file.c), the environment variables and
 * the option lists of the manual pages (config_man.c).
 *
 * Precedence, highest first: flags, environment variables (SENTINEL_LISTEN
 * for --listen...), the configuration file, the defaults. A repeatable
 * option takes all its values from the highest source that gives any.
 */
#ifndef SENTINEL_CONFIG_H
#define SENTINEL_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cluster.h"
#include "log.h"
#include "retention.h"

/*
 * CONFIG_DEFAULT_FILE, the configuration file read when neither --config
 * nor SENTINEL_CONFIG names one, is defined by the build from the install
 * prefix: SYSCONFDIR/sentinel-logd/sentinel-logd.conf.
 */

enum config_command {
	CONFIG_SERVE,   /* run the server (the default) */
	CONFIG_MIGRATE, /* apply migrations to --db and exit */
	CONFIG_COMPACT, /* offline retention pass and VACUUM of --db */
	CONFIG_CHECK,   /* check-config: the configuration was printed; check the rest */
	CONFIG_BACKUP,  /* copy --db to --to */
	CONFIG_RESTORE, /* replace --db with a copy of --from, under a new epoch */
	CONFIG_VERIFY,  /* check the hash chain of --db */
	CONFIG_EXIT,    /* --help or --version was printed: exit 0 */
};

struct config_string; /* a value read from a file or the environment */

struct config {
	enum config_command command;
	char host[256];                    /* --listen host part */
	int port;                          /* --listen port part */
	const char *db_path;               /* --db */
	const char *backup_to;             /* backup --to */
	const char *restore_from;          /* restore --from */
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
	int loki_max_scan;              /* --loki-max-scan: rows one Loki query reads */
	int64_t sql_timeout_us;         /* --sql-timeout */
	int64_t sql_max_rows;           /* --sql-max-rows */
	int readers;                    /* --readers: threads of the reader pool */
	int json;                       /* --json (verify) */
	struct cluster_options cluster; /* --jetstream and --jetstream-*: urls NULL when off */
	enum log_format log_format;     /* --log-format */
	const char *config_file;        /* the configuration file read, or NULL */
	struct config_string *strings;  /* values from the file and the environment */
};

/*
 * Fill cfg from argv, the environment and the configuration file (the one
 * named by --config or SENTINEL_CONFIG, else CONFIG_DEFAULT_FILE if it
 * exists; an empty name reads none). Strings in cfg point into argv or
 * into copies that cfg owns: release them with config_free(). Prints
 * --help, --version and check-config's report to stdout and errors to
 * stderr, naming the file and line of a bad setting. Returns 0, or -1 when
 * something is wrong (after printing why; nothing is then left to free).
 */
int config_parse(struct config *cfg, int argc, char **argv);

/* Free what cfg owns (the values read from a file or the environment). */
void config_free(struct config *cfg);

/*
 * Write one generated part of a manual page in roff: "OPTIONS" (the flags,
 * for sentinel-logd(8)), "ENVIRONMENT" (a variable per flag) or "KEYS" (the
 * configuration file's keys, for sentinel-logd.conf(5)). Returns 0, or
 * ERR_INVAL for another name.
 */
int config_man_section(FILE *out, const char *name);

#endif
