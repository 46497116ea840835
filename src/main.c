/* sentinel-logd: parse the command line and run the chosen command. */
#include <stdio.h>

#include "config.h"
#include "log.h"
#include "server.h"
#include "store.h"

/* `sentinel-logd migrate`: bring the store's schema up to date. */
static int
migrate(const struct config *cfg)
{
	char errmsg[512];
	int err;
	store *st = store_open(cfg->db_path, STORE_WRITE, &err, errmsg, sizeof errmsg);

	if (!st) {
		fprintf(stderr, "sentinel-logd: cannot migrate: %s\n", errmsg);
		return 1;
	}
	printf("%s: schema version %d\n", cfg->db_path, store_schema_version(st));
	store_close(st);
	return 0;
}

int
main(int argc, char **argv)
{
	struct config cfg;

	if (config_parse(&cfg, argc, argv))
		return 2;
	if (cfg.verbose)
		log_set_level(LOG_DEBUG);
	switch (cfg.command) {
	case CONFIG_EXIT:
		return 0;
	case CONFIG_MIGRATE:
		return migrate(&cfg);
	case CONFIG_SERVE:
	default:
		return server_run(&cfg);
	}
}
