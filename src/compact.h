/* `sentinel-logd compact`: offline retention and rebuild of a store. */
#ifndef SENTINEL_COMPACT_H
#define SENTINEL_COMPACT_H

#include "config.h"

/*
 * Compact the store cfg->db_path under cfg's retention policies, saying
 * how far it is on stderr. Returns the exit status: 0, 1 on failure, 130
 * when SIGINT or SIGTERM stopped it (the store is then left whole).
 */
int compact_run(const struct config *cfg);

#endif
