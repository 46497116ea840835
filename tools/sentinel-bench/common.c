/*
 * Helpers shared by the scenarios: clocks, the event loop, connections to
 * the targets, CPU accounting and the benchmark events.
 */
#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "buf.h"
#include "err.h"
#include "httpc.h"
#include "log.h"
#include "proc.h"
#include "wsc.h"

int64_t
bench_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct event_base *
bench_base_new(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base = NULL;

	if (cfg && !event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER))
		base = event_base_new_with_config(cfg);
	if (cfg)
		event_config_free(cfg);
	if (!base)
		log_error("cannot create an event loop");
	return base;
}

httpc *
bench_http_new(struct event_base *base, const struct bench_target *t, httpc_done_fn done, void *arg)
{
	return httpc_new(base, &t->url, &t->addrs, done, arg);
}

void
bench_ws_connect(struct wsc *c, struct lws_context *ctx, const struct bench_target *t,
		 const char *path)
{
	wsc_connect(c, ctx, &t->url, t->address, path ? path : t->path, WSC_ORIGIN);
}

pid_t
bench_server_pid(const struct bench_opts *o)
{
	pid_t pid = 0;

	if (o->pid)
		return o->pid;
	if (proc_find_listener(o->post.url.port, &pid))
		return 0;
	return pid;
}

void
bench_cpu_begin(struct bench_cpu *c, pid_t server)
{
	memset(c, 0, sizeof *c);
	c->server = server;
	c->self0 = proc_self_cpu_seconds();
	c->server_ok = server && !proc_cpu_seconds(server, &c->server0);
	c->t0 = bench_mono_us();
}

void
bench_cpu_end(struct bench_cpu *c)
{
	double wall = (double)(bench_mono_us() - c->t0) / 1e6, server;

	/* Shorter intervals say nothing: a clock tick is 10 ms. */
	if (c->ended || !c->t0 || wall < 0.1)
		return;
	c->ended = 1;
	c->self_pct = (proc_self_cpu_seconds() - c->self0) / wall * 100;
	if (c->server_ok && !proc_cpu_seconds(c->server, &server)) {
		c->server_cpu_s = server - c->server0;
		c->server_pct = c->server_cpu_s / wall * 100;
	} else
		c->server_ok = 0;
}

void
bench_cpu_report(struct bench_cpu *c, struct report *r, double units, const char *what)
{
	bench_cpu_end(c);
	if (!c->ended)
		return;
	report_num(r, "client_cpu_pct", c->self_pct);
	if (c->server_ok) {
		report_num(r, "server_cpu_pct", c->server_pct);
		report_num(r, "server_cpu_s", c->server_cpu_s);
		report_note(r, "CPU: client %.0f%%, server %.0f%% of a core", c->self_pct,
			    c->server_pct);
		if (units > 0) {
			double us = c->server_cpu_s * 1e6 / units;
			report_num(r, "server_us_per_unit", us);
			report_str(r, "cpu_unit", what);
			report_note(r, "server CPU %.2f µs per %s", us, what);
		}
	} else {
		report_note(r, "CPU: client %.0f%% of a core", c->self_pct);
	}
}

/* Seed-like events; %s is where data's fields go. */
static const char *const templates[] = {
	"{\"type\":\"agent\",\"message\":\"Diagnosticando servicio postgresql\","
	"\"data\":{%s\"step\":\"diagnose\",\"service\":\"postgresql\",\"seq\":%llu}}",
	"{\"type\":\"monitor\",\"message\":\"Servicio redis no responde\","
	"\"data\":{%s\"service\":\"redis\",\"status\":\"stopped\",\"seq\":%llu}}",
	"{\"type\":\"agent\",\"message\":\"Ejecutando remediacion: reiniciar servicio\","
	"\"data\":{%s\"step\":\"remediate\",\"action\":\"restart\",\"seq\":%llu}}",
	"{\"type\":\"system\",\"message\":\"Sentinel AI Iniciado (Modo API) \xf0\x9f\x9a\x80\","
	"\"data\":{%s\"mode\":\"api\",\"seq\":%llu}}",
};

int
bench_events_json(struct buf *b, uint64_t seq, unsigned count, int array, int64_t t_us,
		  double t_step)
{
	int wrap = array || count != 1;
	char t[40] = "";

	if (wrap && buf_append(b, "[", 1))
		return ERR_NOMEM;
	for (unsigned i = 0; i < count; i++) {
		const char *tpl = templates[(seq + i) % (sizeof templates / sizeof templates[0])];
		if (t_us)
			snprintf(t, sizeof t, "\"t\":%lld,",
				 (long long)(t_us + (int64_t)(t_step * i)));
		if ((i && buf_append(b, ",", 1)) ||
		    buf_printf(b, tpl, t, (unsigned long long)(seq + i)))
			return ERR_NOMEM;
	}
	if (wrap && buf_append(b, "]", 1))
		return ERR_NOMEM;
	return 0;
}
