/*
 * The cursor: where sentinel-tail is in the server's journal, and what each
 * message of /ws/logs (with control=1) does to it.
 *
 * last_id is the last id dealt with: printed, or passed over by the server
 * before it said "live" (events a type filter skipped, everything before a
 * live-only follow began, ids retention removed). A connection that asks
 * for after_id=last_id therefore gets every event not printed yet and none
 * twice; and an event is printed only when its id is above last_id, which
 * also drops a duplicate if a server ever sent one. Ids belong to the store
 * named by the epoch: when the store is re-created (a "reset"), the cursor
 * starts again from 0 in the new epoch.
 */
#ifndef SENTINEL_TAIL_CURSOR_H
#define SENTINEL_TAIL_CURSOR_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "state.h"
#include "store.h"
#include "url.h"

struct cursor {
	int positioned; /* last_id and epoch are known */
	int64_t last_id;
	char epoch[STORE_EPOCH_SIZE]; /* "" until the first hello */
	int live;                     /* the first replay is over */
	const char *since;            /* since= until then, or NULL */
	const char *types;            /* type=a,b, or NULL */
};

enum cursor_msg {
	CURSOR_PRINT,   /* an event not printed yet: print it */
	CURSOR_SKIP,    /* an event already printed */
	CURSOR_CONTROL, /* a control message, now applied */
	CURSOR_INVALID, /* neither an event nor a control message */
};

/*
 * Start a cursor at resume (from the state file; since is then ignored) or,
 * when resume is NULL, where since says (NULL: live only). since and types
 * must outlive the cursor.
 */
void cursor_init(struct cursor *c, const struct state *resume, const char *since,
		 const char *types);

/*
 * Refuse a URL query string that sets a parameter the cursor sends itself
 * (after_id, epoch, control, since, type). Returns 0, or ERR_INVAL with the
 * reason in errmsg.
 */
int cursor_check_query(const char *query, char *errmsg);

/*
 * Build the request path of the next connection into buf (size bytes): the
 * URL's path and query, control=1, and where to start. Returns 0, or
 * ERR_TOOBIG.
 */
int cursor_request(const struct cursor *c, const struct url *u, char *buf, size_t size);

/*
 * Take one message: an event moves last_id to its id when it is new, a
 * control message is applied (gap and reset are reported on stderr).
 * *msg_out gets the parsed message or NULL; the caller json_decref()s it.
 */
enum cursor_msg cursor_message(struct cursor *c, const char *text, size_t len, json_t **msg_out);

#endif
