/*
 * The server: the composition root. It listens, opens the store, starts
 * the writer thread, builds the journal, the hub and the endpoints, and
 * runs the libevent loop until SIGINT or SIGTERM; SIGHUP reloads the
 * tokens and the TLS certificate.
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

/*
 * check-config: the checks the server makes of its configuration at start
 * that need no store and no socket (the address, tokens, the open-listener
 * rule, the TLS certificate and key). Prints the number of tokens, never a
 * token, and logs what fails.
 * Returns 0 or a negative ERR_*.
 */
int server_check(const struct config *cfg);

#endif
