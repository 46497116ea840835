/*
 * Streaming ingest. Every message takes a slot in a FIFO of answers; a slot
 * is filled either at once (a parse error) or when the writer is done with
 * its batch, and answers leave strictly in slot order. When too many
 * messages are in flight the connection stops reading (rx flow control)
 * until answers drain, so a fast producer cannot queue without bound.
 */
#include "ws_ingest.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "ingest.h"
#include "log.h"

#define MAX_IN_FLIGHT 32

struct ws_ingest {
	journal *journal;
	idem *idem;
	size_t event_max, body_max;
	struct ingest_conn *producers;
	int stopping;
};

struct answer_slot {
	struct ingest_conn *conn;
	struct ingest_batch *batch; /* committing; NULL once answered */
	struct idem_wait *wait;     /* or waiting for its key's answer */
	char *answer;               /* JSON, malloc'd; NULL until ready */
	struct answer_slot *next;
};

struct ingest_conn {
	struct lws *wsi;
	ws_ingest *wi;
	struct ingest_conn *prev, *next; /* the endpoint's list of producers */
	char *msg;                       /* the message being received */
	size_t msg_len, msg_cap;
	struct answer_slot *head, **tail;
	unsigned in_flight;
	int rx_paused;
};

ws_ingest *
ws_ingest_create(journal *j, idem *id, size_t event_max, size_t body_max)
{
	ws_ingest *wi = calloc(1, sizeof *wi);

	if (!wi)
		return NULL;
	wi->journal = j;
	wi->idem = id;
	wi->event_max = event_max;
	wi->body_max = body_max;
	return wi;
}

void
ws_ingest_destroy(ws_ingest *wi)
{
	free(wi);
}

struct ingest_conn *
ws_ingest_open(ws_ingest *wi, struct lws *wsi)
{
	struct ingest_conn *c;

	if (wi->stopping)
		return NULL;
	c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->wsi = wsi;
	c->wi = wi;
	c->tail = &c->head;
	c->next = wi->producers;
	if (wi->producers)
		wi->producers->prev = c;
	wi->producers = c;
	return c;
}

void
ws_ingest_stop(ws_ingest *wi)
{
	wi->stopping = 1;
	for (struct ingest_conn *c = wi->producers; c; c = c->next)
		lws_callback_on_writable(c->wsi);
}

unsigned
ws_ingest_count(const ws_ingest *wi)
{
	unsigned n = 0;
	for (const struct ingest_conn *c = wi->producers; c; c = c->next)
		n++;
	return n;
}

static struct answer_slot *
add_slot(struct ingest_conn *c)
{
	struct answer_slot *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->conn = c;
	*c->tail = s;
	c->tail = &s->next;
	if (++c->in_flight >= MAX_IN_FLIGHT && !c->rx_paused) {
		lws_rx_flow_control(c->wsi, 0);
		c->rx_paused = 1;
	}
	return s;
}

static void
set_answer(struct answer_slot *s, char *answer)
{
	s->answer = answer ? answer : strdup("{\"error\":\"out of memory\"}");
	if (s->conn->head == s)
		lws_callback_on_writable(s->conn->wsi);
}

/* The writer finished a batch of this connection. */
static void
batch_done(struct ingest_batch *b)
{
	struct answer_slot *s = b->owner;

	s->batch = NULL;
	set_answer(s, b->status == 0 ? ingest_answer_json(b) : ingest_error_json(b->errmsg, -1));
	ingest_batch_free(b);
}

/* The key's answer for a message: a replay, a refusal, or its batch's. */
static void
key_answered(void *arg, const struct idem_answer *a)
{
	struct answer_slot *s = arg;
	char *json;

	s->wait = NULL;
	if (a->status >= 300) {
		json = ingest_error_json(a->errmsg, -1);
	} else if (!a->replayed || a->body[0] != '{') {
		json = strdup(a->body);
	} else if ((json = malloc(strlen(a->body) + 17))) {
		/* The first request's answer, said to be a replay. */
		strcpy(json, "{\"replayed\":true,");
		strcat(json, a->body + 1);
	}
	set_answer(s, json);
}

/* The message's key is in flight for it, and it stores nothing after all. */
static void
abandon_key(struct answer_slot *s)
{
	if (s->wait) {
		idem_abandon(s->wait);
		s->wait = NULL;
	}
}

/* A whole message arrived: parse it and hand it to the writer. */
static int
handle_message(struct ingest_conn *c)
{
	struct ingest_error err;
	struct answer_slot *s = add_slot(c);
	const char *msg = c->msg ? c->msg : "", *body = msg;
	size_t len = c->msg_len;
	struct ingest_batch *b;
	char *key = NULL;
	int rc;

	if (!s)
		return -1;
	c->msg_len = 0; /* the message stays in c->msg until the next one */
	if ((rc = ingest_envelope(msg, len, &key, &body, &len, err.msg)) < 0) {
		set_answer(s, ingest_error_json(err.msg, -1));
		return 0;
	}
	if (key && idem_enabled(c->wi->idem)) {
		unsigned char hash[INGEST_KEY_HASH_SIZE];
		idem_fingerprint("events", "json", body, len, hash);
		if (idem_check(c->wi->idem, key, hash, 0, key_answered, s, &s->wait) != IDEM_NEW) {
			free(key); /* answered, or waiting for the first's answer */
			return 0;
		}
	}
	b = ingest_parse(body, len, INGEST_JSON, c->wi->event_max, &err);
	if (!b) {
		free(key);
		abandon_key(s);
		set_answer(s, ingest_error_json(err.msg, (long)err.index));
		return 0;
	}
	b->idem_key = key;
	if (b->count == 0) {
		abandon_key(s);
		set_answer(s, ingest_answer_json(b));
		ingest_batch_free(b);
		return 0;
	}
	b->owner = s;
	b->on_done = batch_done;
	if (s->wait)
		idem_attach(s->wait, b); /* answered through the key */
	if (journal_append(c->wi->journal, b)) {
		ingest_batch_free(b);
		abandon_key(s);
		set_answer(s, ingest_error_json("the server is shutting down", -1));
		return 0;
	}
	if (!s->wait)
		s->batch = b;
	return 0;
}

int
ws_ingest_receive(struct ingest_conn *c, const void *in, size_t len)
{
	size_t max = c->wi->body_max;

	if (c->msg_len + len > max) {
		lws_close_reason(c->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
				 (unsigned char *)"message over the size limit", 27);
		return -1;
	}
	if (c->msg_len + len + 1 > c->msg_cap) {
		size_t cap = c->msg_cap ? c->msg_cap : 4096;
		while (cap < c->msg_len + len + 1)
			cap *= 2;
		char *bigger = realloc(c->msg, cap);
		if (!bigger)
			return -1;
		c->msg = bigger;
		c->msg_cap = cap;
	}
	memcpy(c->msg + c->msg_len, in, len);
	c->msg_len += len;
	if (!lws_is_final_fragment(c->wsi) || lws_remaining_packet_payload(c->wsi))
		return 0;
	int rc = handle_message(c);
	if (c->msg_cap > 1024 * 1024) { /* do not keep a big buffer idle */
		free(c->msg);
		c->msg = NULL;
		c->msg_cap = 0;
	}
	return rc;
}

int
ws_ingest_writeable(struct ingest_conn *c)
{
	while (c->head && c->head->answer) {
		struct answer_slot *s = c->head;
		size_t len = strlen(s->answer);
		unsigned char *buf = malloc(LWS_PRE + len);
		if (!buf)
			return -1;
		memcpy(buf + LWS_PRE, s->answer, len);
		int n = lws_write(c->wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT);
		free(buf);
		if (n < (int)len)
			return -1;
		c->head = s->next;
		if (!c->head)
			c->tail = &c->head;
		free(s->answer);
		free(s);
		c->in_flight--;
		if (lws_send_pipe_choked(c->wsi)) {
			lws_callback_on_writable(c->wsi);
			break;
		}
	}
	if (c->rx_paused && c->in_flight < MAX_IN_FLIGHT / 2) {
		lws_rx_flow_control(c->wsi, 1);
		c->rx_paused = 0;
	}
	if (!c->head && c->wi->stopping) {
		lws_close_reason(c->wsi, LWS_CLOSE_STATUS_GOINGAWAY,
				 (unsigned char *)"server stopping", 15);
		return -1;
	}
	return 0;
}

void
ws_ingest_close(struct ingest_conn *c)
{
	struct answer_slot *s = c->head, *next;

	for (; s; s = next) {
		next = s->next;
		if (s->batch)
			s->batch->owner = NULL;
		idem_cancel(s->wait);
		free(s->answer);
		free(s);
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		c->wi->producers = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->msg);
	free(c);
}
