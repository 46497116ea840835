/*
 * The follow loop of sentinel-tail: a libwebsockets client on a libevent
 * loop that follows /ws/logs, prints events, keeps the state file, and
 * reconnects with exponential backoff until SIGINT or SIGTERM.
 */
#ifndef SENTINEL_TAIL_TAIL_H
#define SENTINEL_TAIL_TAIL_H

#include "state.h"
#include "url.h"

struct tail_options {
	struct url url;
	const char *state_path;     /* --state, or NULL */
	const struct state *resume; /* read from the state file, or NULL */
	const char *since;          /* since= for the first replay, or NULL */
	const char *types;          /* type=a,b, or NULL */
	int json;                   /* --json: print events as received */
	int verbose;                /* -v: 1 connection status, 2 debug */
};

/*
 * Follow until SIGINT or SIGTERM (exit status 0) or an error retrying
 * cannot fix (1, after saying why on stderr). Returns the exit status.
 */
int tail_run(const struct tail_options *opt);

#endif
