/* sentinel-logd: read the configuration and run the chosen command. */
#include <stdio.h>

#include "compact.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "server.h"
#include "store.h"

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
	printf("%s: schema version %d\n", cfg->db_path, store_schema_version(st));
	store_close(st);
	return 0;
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
		rc = compact_run(&cfg);
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
