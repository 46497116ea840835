/* sentinel-logd: read the configuration and run the chosen command. */
#include <stdio.h>

#include "buf.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "retention.h"
#include "server.h"
#include "store.h"
#include "store_backup.h"
#include "store_chain.h"
#include "timestamp.h"

/* Say so when opening the store gave it a new epoch. */
static void
report_renewal(const char *path, store *st)
{
	if (store_renewal(st))
		fprintf(stderr, "sentinel-logd: %s has a new epoch %s: %s\n", path, store_epoch(st),
			store_renewal(st));
}

/* `sentinel-logd migrate`: bring the store's schema up to date. */
static int
migrate(const struct config *cfg)
{
	char errmsg[ERRMSG_SIZE];
	int err;
	store *st = store_open(cfg->db_path, STORE_WRITE, &err, errmsg);

	if (!st) {
		fprintf(stderr, "sentinel-logd: cannot migrate: %s\n", errmsg);
		return 1;
	}
	report_renewal(cfg->db_path, st);
	printf("%s: schema version %d\n", cfg->db_path, store_schema_version(st));
	store_close(st);
	return 0;
}

/* `sentinel-logd compact`: retention in full (keys past the window too), then VACUUM. */
static int
compact(const struct config *cfg)
{
	struct retention_result res = {0};
	struct store_sizes before, after;
	char errmsg[ERRMSG_SIZE];
	int64_t count = 0, keys = 0, n;
	int err, rc = 1, more;
	store *st = store_open(cfg->db_path, STORE_WRITE, &err, errmsg);

	if (!st) {
		fprintf(stderr, "sentinel-logd: cannot compact: %s\n", errmsg);
		return 1;
	}
	report_renewal(cfg->db_path, st);
	if (store_sizes(st, &before) || store_count(st, &count))
		goto fail;
	if (retention_active(&cfg->retention)) {
		while ((more = retention_step(st, &cfg->retention, timestamp_now(), RETENTION_BATCH,
					      &count, &res)) > 0)
			;
		if (more < 0)
			goto fail;
	}
	while ((more = retention_expire_keys(st, &cfg->retention, timestamp_now(), RETENTION_BATCH,
					     &n)) >= 0) {
		keys += n;
		if (!more)
			break;
	}
	if (more < 0 || store_vacuum(st) || store_checkpoint(st, 1) || store_sizes(st, &after))
		goto fail;
	printf("%s: removed %lld events; %lld events kept; file %lld -> %lld bytes\n", cfg->db_path,
	       (long long)(res.by_age + res.by_count + res.by_bytes), (long long)count,
	       (long long)(before.db_bytes + before.wal_bytes),
	       (long long)(after.db_bytes + after.wal_bytes));
	if (keys)
		printf("%s: removed %lld idempotency keys older than --idempotency-window\n",
		       cfg->db_path, (long long)keys);
	rc = 0;
fail:
	if (rc)
		fprintf(stderr, "sentinel-logd: compact failed: %s\n", store_errmsg(st));
	store_close(st);
	return rc;
}

/* `sentinel-logd check-config`: config_parse printed the configuration. */
static int
check_config(const struct config *cfg)
{
	if (server_check(cfg)) {
		fprintf(stderr, "sentinel-logd: the configuration is not usable\n");
		return 1;
	}
	printf("# the configuration is valid\n");
	return 0;
}

/* `sentinel-logd backup`: a consistent copy of the store, also while it is served. */
static int
backup(const struct config *cfg)
{
	struct store_copy c;
	char errmsg[ERRMSG_SIZE];

	if (store_backup(cfg->db_path, cfg->backup_to, &c, errmsg)) {
		fprintf(stderr, "sentinel-logd: cannot back up %s: %s\n", cfg->db_path, errmsg);
		return 1;
	}
	printf("%s: backed up to %s: %lld events, last id %lld, epoch %s, %lld bytes\n",
	       cfg->db_path, cfg->backup_to, (long long)c.events, (long long)c.last_id, c.epoch,
	       (long long)c.bytes);
	return 0;
}

/* `sentinel-logd restore`: put a backup in place of the store, under a new epoch. */
static int
restore(const struct config *cfg)
{
	struct store_copy c;
	char errmsg[ERRMSG_SIZE];

	if (store_restore(cfg->db_path, cfg->restore_from, &c, errmsg)) {
		fprintf(stderr, "sentinel-logd: cannot restore %s: %s\n", cfg->db_path, errmsg);
		return 1;
	}
	printf("%s: restored from %s: %lld events, last id %lld, new epoch %s (clients resuming "
	       "with the old epoch start over)\n",
	       cfg->db_path, cfg->restore_from, (long long)c.events, (long long)c.last_id, c.epoch);
	return 0;
}

/* Exit codes of `sentinel-logd verify`. */
enum { VERIFY_INTACT = 0, VERIFY_BROKEN = 1, VERIFY_UNREADABLE = 3 };

/* Print the report of a chain check as a few lines of text. */
static void
print_report(const char *path, const struct store_chain_report *r)
{
	const struct chain_check *k = &r->check;
	char hex[CHAIN_HEX_SIZE];

	if (k->broken) {
		printf("%s: the hash chain is broken at id %lld (the last good link is id %lld)\n"
		       "  %s\n",
		       path, (long long)k->bad_id, (long long)k->after_id, k->reason);
		return;
	}
	chain_hex(r->head_hash, hex);
	printf("%s: the hash chain is intact: %lld events", path, (long long)k->events);
	if (k->events)
		printf(" (ids %lld to %lld)", (long long)r->first_id, (long long)r->last_id);
	if (k->deleted)
		printf(", %lld links of events deleted by retention", (long long)k->deleted);
	printf("\n  head: id %lld hash %s\n", (long long)r->head_id, hex);
	if (r->anchor_id) {
		chain_hex(r->anchor_hash, hex);
		printf("  anchor (retention deleted up to it): id %lld hash %s\n",
		       (long long)r->anchor_id, hex);
	}
}

/* `sentinel-logd verify`: check the hash chain of the store. */
static int
verify(const struct config *cfg)
{
	struct store_chain_report r;
	char errmsg[ERRMSG_SIZE];
	struct buf b = {0};
	int err, rc = VERIFY_UNREADABLE;
	store *st = store_open(cfg->db_path, STORE_READONLY, &err, errmsg);

	if (!st) {
		fprintf(stderr, "sentinel-logd: cannot verify: %s\n", errmsg);
		return VERIFY_UNREADABLE;
	}
	if (store_chain_verify(st, NULL, NULL, &r)) {
		fprintf(stderr, "sentinel-logd: cannot verify %s: %s\n", cfg->db_path,
			store_errmsg(st));
		goto out;
	}
	if (cfg->json) {
		if (store_chain_report_json(&r, &b)) {
			fprintf(stderr, "sentinel-logd: out of memory\n");
			goto out;
		}
		printf("%s\n", b.data);
	} else {
		print_report(cfg->db_path, &r);
	}
	rc = r.check.broken ? VERIFY_BROKEN : VERIFY_INTACT;
out:
	buf_free(&b);
	store_close(st);
	return rc;
}

int
main(int argc, char **argv)
{
	struct config cfg;
	int rc;

	if (config_parse(&cfg, argc, argv))
		return 2;
	log_set_format(cfg.log_format);
	if (cfg.verbose)
		log_set_level(LOG_DEBUG);
	switch (cfg.command) {
	case CONFIG_EXIT:
		rc = 0;
		break;
	case CONFIG_CHECK:
		rc = check_config(&cfg);
		break;
	case CONFIG_MIGRATE:
		rc = migrate(&cfg);
		break;
	case CONFIG_COMPACT:
		rc = compact(&cfg);
		break;
	case CONFIG_BACKUP:
		rc = backup(&cfg);
		break;
	case CONFIG_RESTORE:
		rc = restore(&cfg);
		break;
	case CONFIG_VERIFY:
		rc = verify(&cfg);
		break;
	case CONFIG_SERVE:
	default:
		if (cfg.config_file)
			log_info("configuration file %s", cfg.config_file);
		rc = server_run(&cfg);
		break;
	}
	config_free(&cfg);
	return rc;
}
