/*
 * The wire form of a stored event: what every reader receives, the stored
 * body with "id" as its first member ({"id":42,"type":...}).
 *
 * A wire_msg is built once per committed event, by the writer thread, and
 * then shared read-only by every subscriber on the loop (through the hub),
 * so that fan-out copies bytes and never serialises.
 */
#ifndef SENTINEL_WIRE_H
#define SENTINEL_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "logevent.h"

/* The largest number of bytes wire_write() adds to a body. */
#define WIRE_OVERHEAD 32

/*
 * Write event id with this body as sent to readers. out must hold
 * body_len + WIRE_OVERHEAD bytes. Returns the length written (no NUL).
 */
size_t wire_write(int64_t id, const char *body, size_t body_len, char *out);

/* One committed event in wire form, with what filters need to see. */
struct wire_msg {
	int64_t id;
	int64_t ts_us;
	size_t len; /* bytes of data */
	char type[LOGEVENT_TYPE_MAX + 1];
	char data[]; /* the JSON, len bytes, not NUL-terminated */
};

/* Build the wire form of committed event id. Returns NULL when out of memory. */
struct wire_msg *wire_msg_new(int64_t id, const struct logevent *ev);

/* Free a message (NULL is allowed). */
void wire_msg_free(struct wire_msg *m);

#endif
