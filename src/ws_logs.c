/*
 * Subscriber delivery. A WRITEABLE callback sends messages until the socket
 * would block or a per-callback budget is spent, so one fast reader cannot
 * starve the others; it then asks for another callback. A subscriber with
 * nothing left to send parks (waiting) until ws_logs_wake().
 *
 * Messages from the hub are sent from the hub's shared buffer; lws writes
 * the frame header into the headroom in front of it and copies only what
 * the kernel did not take. Messages read from the store are built in the
 * server's scratch buffer, one at a time.
 */
#include "ws_logs.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "log.h"
#include "server.h"
#include "store.h"

_Static_assert(LWS_PRE <= HUB_PRE, "hub headroom must fit a WebSocket frame header");

/* Per WRITEABLE callback: at most this many messages or bytes. */
#define SEND_BUDGET_MSGS 256
#define SEND_BUDGET_BYTES (512 * 1024)
/* Rows read from the store per query while catching up. */
#define STORE_PAGE_ROWS 128

struct subscriber {
	struct lws *wsi;
	struct server *srv;
	int64_t last_id;  /* the cursor: the last id sent (or skipped) */
	uint64_t hint;    /* position in the hub after last_id */
	int waiting;      /* parked until new events are published */
	struct subscriber *prev, *next;
};

struct subscriber *
ws_logs_open(struct lws *wsi, struct server *srv)
{
	struct subscriber *sub;

	if (srv->stopping)
		return NULL;
	sub = calloc(1, sizeof *sub);
	if (!sub)
		return NULL;
	sub->wsi = wsi;
	sub->srv = srv;
	/* The seed's behaviour: every event committed from now on. */
	sub->last_id = hub_last_id(srv->hub);
	sub->waiting = 1;
	sub->next = srv->subscribers;
	if (srv->subscribers)
		srv->subscribers->prev = sub;
	srv->subscribers = sub;
	return sub;
}

void
ws_logs_close(struct subscriber *sub)
{
	struct server *srv = sub->srv;

	if (sub->prev)
		sub->prev->next = sub->next;
	else
		srv->subscribers = sub->next;
	if (sub->next)
		sub->next->prev = sub->prev;
	free(sub);
}

void
ws_logs_wake(struct server *srv)
{
	for (struct subscriber *s = srv->subscribers; s; s = s->next) {
		if (s->waiting) {
			s->waiting = 0;
			lws_callback_on_writable(s->wsi);
		}
	}
}

void
ws_logs_stop(struct server *srv)
{
	for (struct subscriber *s = srv->subscribers; s; s = s->next) {
		s->waiting = 0;
		lws_callback_on_writable(s->wsi);
	}
}

unsigned
ws_logs_count(const struct server *srv)
{
	unsigned n = 0;
	for (const struct subscriber *s = srv->subscribers; s; s = s->next)
		n++;
	return n;
}

/* Send one message whose payload has HUB_PRE bytes of headroom. */
static int
send_msg(struct subscriber *sub, unsigned char *payload, size_t len)
{
	int n = lws_write(sub->wsi, payload, len, LWS_WRITE_TEXT);
	if (n < (int)len)
		return -1;
	sub->srv->deliveries++;
	return 0;
}

struct page_state {
	struct subscriber *sub;
	size_t msgs, bytes;
	int failed;
};

/* One row read from the store: send it if the socket still takes data. */
static int
send_row(const struct store_row *row, void *arg)
{
	struct page_state *ps = arg;
	struct subscriber *sub = ps->sub;
	struct server *srv = sub->srv;
	size_t need = LWS_PRE + row->body_len + LOGEVENT_WIRE_OVERHEAD;

	if (need > srv->scratch_size) {
		unsigned char *bigger = realloc(srv->scratch, need);
		if (!bigger) {
			ps->failed = 1;
			return 1;
		}
		srv->scratch = bigger;
		srv->scratch_size = need;
	}
	unsigned char *payload = srv->scratch + LWS_PRE;
	size_t len = logevent_wire_write(row->id, row->body, row->body_len, (char *)payload);
	if (send_msg(sub, payload, len)) {
		ps->failed = 1;
		return 1;
	}
	sub->last_id = row->id;
	ps->msgs++;
	ps->bytes += len;
	return lws_send_pipe_choked(sub->wsi) || ps->msgs >= SEND_BUDGET_MSGS ||
	       ps->bytes >= SEND_BUDGET_BYTES;
}

/* Catch up from the store; returns -1 on failure, else rows sent. */
static int
send_from_store(struct subscriber *sub, struct page_state *ps)
{
	size_t before = ps->msgs;
	int rows;

	if (store_read_after(sub->srv->reader, sub->last_id, STORE_PAGE_ROWS, send_row,
			     ps, &rows)) {
		log_error("reading the store for a subscriber failed: %s",
			  store_errmsg(sub->srv->reader));
		return -1;
	}
	if (ps->failed)
		return -1;
	return (int)(ps->msgs - before);
}

int
ws_logs_writeable(struct subscriber *sub)
{
	struct server *srv = sub->srv;
	struct page_state ps = {.sub = sub};

	while (ps.msgs < SEND_BUDGET_MSGS && ps.bytes < SEND_BUDGET_BYTES) {
		const struct hub_msg *m;
		enum hub_next_result r = hub_next(srv->hub, sub->last_id, &sub->hint, &m);

		if (r == HUB_NEXT_NONE) {
			if (srv->stopping) {
				lws_close_reason(sub->wsi, LWS_CLOSE_STATUS_GOINGAWAY,
						 (unsigned char *)"server stopping", 15);
				return -1;
			}
			sub->waiting = 1;
			return 0;
		}
		if (r == HUB_NEXT_BEHIND) {
			int sent = send_from_store(sub, &ps);
			if (sent < 0) {
				lws_close_reason(sub->wsi, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION,
						 NULL, 0);
				return -1;
			}
			if (sent == 0 && !lws_send_pipe_choked(sub->wsi)) {
				/* The store holds nothing between the cursor and the
				 * hub's window: those rows were deleted. Continue with
				 * the oldest event the hub holds. */
				sub->last_id = hub_floor_id(srv->hub);
				sub->hint = 0;
				continue;
			}
		} else {
			if (send_msg(sub, (unsigned char *)HUB_MSG_PAYLOAD(m), m->len))
				return -1;
			sub->last_id = m->id;
			ps.msgs++;
			ps.bytes += m->len;
		}
		if (lws_send_pipe_choked(sub->wsi))
			break;
	}
	lws_callback_on_writable(sub->wsi);
	return 0;
}
