/*
 * The hub's ring: a power-of-two array of message pointers indexed by an
 * absolute sequence number (head = oldest, tail = one past the newest).
 * floor_id is the id below which the ring has nothing: every committed id
 * above floor_id is in the ring. Evicting the oldest message raises it.
 */
#include "hub.h"

#include <stdlib.h>

struct hub {
	struct wire_msg **ring;
	uint64_t mask;
	uint64_t head, tail;
	size_t max_msgs, max_bytes, bytes;
	int64_t floor_id, last_id;
};

hub *
hub_create(size_t max_msgs, size_t max_bytes, int64_t last_id)
{
	hub *h = calloc(1, sizeof *h);
	size_t cap = 1;

	if (!h)
		return NULL;
	if (max_msgs < 1)
		max_msgs = 1;
	while (cap < max_msgs)
		cap <<= 1;
	h->ring = calloc(cap, sizeof *h->ring);
	if (!h->ring) {
		free(h);
		return NULL;
	}
	h->mask = cap - 1;
	h->max_msgs = max_msgs;
	h->max_bytes = max_bytes;
	h->floor_id = h->last_id = last_id;
	return h;
}

void
hub_destroy(hub *h)
{
	if (!h)
		return;
	for (uint64_t s = h->head; s != h->tail; s++)
		wire_msg_free(h->ring[s & h->mask]);
	free(h->ring);
	free(h);
}

static void
evict_oldest(hub *h)
{
	struct wire_msg *m = h->ring[h->head & h->mask];
	h->floor_id = m->id;
	h->bytes -= m->len;
	h->ring[h->head & h->mask] = NULL;
	h->head++;
	wire_msg_free(m);
}

void
hub_publish(hub *h, struct wire_msg *m)
{
	while (h->tail - h->head >= h->max_msgs ||
	       (h->tail != h->head && h->bytes + m->len > h->max_bytes))
		evict_oldest(h);
	h->ring[h->tail & h->mask] = m;
	h->tail++;
	h->bytes += m->len;
	h->last_id = m->id;
}

void
hub_forget(hub *h, int64_t id)
{
	while (h->head != h->tail)
		evict_oldest(h);
	h->floor_id = h->last_id = id;
}

void
hub_drop_through(hub *h, int64_t id)
{
	while (h->head != h->tail && h->ring[h->head & h->mask]->id <= id)
		evict_oldest(h);
}

int64_t
hub_last_id(const hub *h)
{
	return h->last_id;
}

int64_t
hub_floor_id(const hub *h)
{
	return h->floor_id;
}

size_t
hub_count(const hub *h)
{
	return (size_t)(h->tail - h->head);
}

size_t
hub_bytes(const hub *h)
{
	return h->bytes;
}

enum hub_next_result
hub_next(hub *h, int64_t after, uint64_t *hint, const struct wire_msg **msg_out)
{
	uint64_t lo, hi, s = *hint;

	if (after < h->floor_id)
		return HUB_NEXT_BEHIND;
	if (after >= h->last_id)
		return HUB_NEXT_NONE;

	/* The hint is right when it points at the first id above after. */
	if (s >= h->head && s < h->tail && h->ring[s & h->mask]->id > after &&
	    (s == h->head || h->ring[(s - 1) & h->mask]->id <= after))
		goto found;

	lo = h->head;
	hi = h->tail;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (h->ring[mid & h->mask]->id <= after)
			lo = mid + 1;
		else
			hi = mid;
	}
	s = lo; /* < tail, since after < last_id */
found:
	*hint = s + 1;
	*msg_out = h->ring[s & h->mask];
	return HUB_NEXT_MSG;
}
