/*
 * The server: the composition root. It opens the store, starts the writer
 * thread, builds the journal, the hub and the endpoints, listens, and runs
 * the libevent loop until SIGINT or SIGTERM.
 */
#ifndef SENTINEL_SERVER_H
#define SENTINEL_SERVER_H

#include "config.h"

/*
 * Run the server until SIGINT or SIGTERM. Returns the process's exit
 * status: 0 after a clean stop, 1 if it could not start or failed (after
 * logging why), 75 when a cluster node must be started again to rebuild
 * its store (the stream was re-created under it).
 */
int server_run(const struct config *cfg);

#endif
