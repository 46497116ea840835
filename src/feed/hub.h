/*
 * The hub: a cache of the newest committed events, in wire form, shared by
 * every subscriber.
 *
 * Each event is serialised once (wire.h) and every subscriber sends the
 * same bytes. The hub holds no per-subscriber state: a subscriber is a
 * cursor, the last id it was sent, and asks the hub for the next message
 * after it. When the cursor is older than what the hub still holds, the
 * subscriber reads from the journal instead. So a slow subscriber costs no
 * memory here and nothing it has not been sent is ever dropped for it.
 *
 * Only committed events are published, in commit (id) order. Loop thread
 * only.
 */
#ifndef SENTINEL_HUB_H
#define SENTINEL_HUB_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

typedef struct hub hub;

/*
 * Create a hub holding at most max_msgs messages and max_bytes payload
 * bytes. last_id is the newest id already in the store: the hub covers
 * every id after it.
 */
hub *hub_create(size_t max_msgs, size_t max_bytes, int64_t last_id);
void hub_destroy(hub *h);

/* Add a committed message (ids strictly increasing); the hub owns it. */
void hub_publish(hub *h, struct wire_msg *m);

/*
 * An event with this id was committed but has no wire form here (out of
 * memory): drop the cached window so that readers take it from the store.
 */
void hub_forget(hub *h, int64_t id);

/*
 * Retention deleted events up to this id: drop them from the window, so
 * that a lagging subscriber reads the store and learns of the gap.
 */
void hub_drop_through(hub *h, int64_t id);

/* The id of the newest published event (or the starting last_id). */
int64_t hub_last_id(const hub *h);

/* Every committed id above this one is in the hub. */
int64_t hub_floor_id(const hub *h);

/* Number of messages and payload bytes held. */
size_t hub_count(const hub *h);
size_t hub_bytes(const hub *h);

enum hub_next_result {
	HUB_NEXT_MSG,    /* *msg_out is the first message with id > after */
	HUB_NEXT_NONE,   /* nothing newer yet: wait for hub_publish */
	HUB_NEXT_BEHIND, /* after is older than the hub: read the store */
};

/*
 * Find the first message with id > after. *hint is the caller's position
 * from the previous call (start it at 0); it makes the common case O(1).
 */
enum hub_next_result hub_next(hub *h, int64_t after, uint64_t *hint,
			      const struct wire_msg **msg_out);

#endif
