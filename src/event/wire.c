/* The wire form of events (see wire.h). */
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t
wire_write(int64_t id, const char *body, size_t body_len, char *out)
{
	/* body is "{...}" with at least one member, so "{"id":N," + rest;
	 * N written without printf, which would cost more than the copy. */
	char digits[24], *d = digits + sizeof digits;
	uint64_t v = id < 0 ? 0 - (uint64_t)id : (uint64_t)id;
	size_t n;

	do {
		*--d = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (id < 0)
		*--d = '-';
	memcpy(out, "{\"id\":", 6);
	n = (size_t)(digits + sizeof digits - d);
	memcpy(out + 6, d, n);
	out[6 + n] = ',';
	n += 7;
	memcpy(out + n, body + 1, body_len - 1);
	return n + body_len - 1;
}

struct wire_msg *
wire_msg_new(int64_t id, const struct logevent *ev)
{
	struct wire_msg *m = malloc(sizeof *m + ev->body_len + WIRE_OVERHEAD);

	if (!m)
		return NULL;
	m->id = id;
	m->ts_us = ev->ts_us;
	memcpy(m->type, ev->type, sizeof m->type);
	m->len = wire_write(id, ev->body, ev->body_len, m->data);
	return m;
}

void
wire_msg_free(struct wire_msg *m)
{
	free(m);
}
