/*
 * sentinel-bench: the command line. The first word names the scenario;
 * every option is checked (and refused when it does not apply to that
 * scenario) before anything connects. Exit status: 0 when the run
 * completed, 1 when it failed or is incomplete (its row is still printed,
 * marked so), 2 for bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <libwebsockets.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "err.h"
#include "log.h"
#include "lwslog.h"
#include "version.h"

#define DEFAULT_POST_URL "http://127.0.0.1:8000/api/events"
#define DEFAULT_WS_URL   "ws://127.0.0.1:8000/ws/logs"
#define DEFAULT_TIMEOUT  120.0

static const char usage[] =
	"Usage: sentinel-bench SCENARIO [OPTIONS]\n"
	"\n"
	"Load a sentinel-logd server on this machine (or any server speaking the\n"
	"Sentinel AI log protocol) and print the result as one Markdown table row,\n"
	"or as one line of JSON with --json. Every run is bounded by its count of\n"
	"events and by --timeout.\n"
	"\n"
	"Scenarios:\n"
	"  ingest-http  producers POST batches over keep-alive connections, each\n"
	"               waiting for its answer before the next (batch 1: one event\n"
	"               a request, as a bare object); result: events/s\n"
	"      --batch N (1000)  --producers P (2)  --events E (1000000)\n"
	"      --idempotency  each post with an Idempotency-Key of its own\n"
	"  ingest-ws    the same over /ws/ingest: each message an array, up to W\n"
	"               messages in flight per connection; result: events/s\n"
	"      --batch N (1000)  --producers P (2)  --events E (1000000)  --window W (8)\n"
	"  fanout       M subscribers on the live feed; a publisher posts R events/s\n"
	"               on a clock (open loop), each event stamped with its due time\n"
	"               in data.t; result: deliveries/s in the measured window, with\n"
	"               end-to-end latency p50/p99/p99.9 over all subscribers\n"
	"      --subscribers M (100)  --rate R (10000)  --seconds S (10)\n"
	"      --warmup S (1)  --drain S (10)  --threads T (1, subscriber threads)\n"
	"      --publishers N (16, most POSTs in flight)  --tick-ms N (1)\n"
	"  replay       fill the store to N events through the server if it holds\n"
	"               fewer, then read N events with after_id=0; result: events/s\n"
	"      --events N (1000000)\n"
	"  idle         open K idle live-feed connections; result: the server's RSS\n"
	"               growth per connection (from /proc/PID/status)\n"
	"      --connections K (1000)  --settle S (2)  --pid PID\n"
	"  fsync        write+fdatasync 4 KiB blocks in a temporary file; result:\n"
	"               the latency p50 (and p99)\n"
	"      --dir DIR (.)  --count N (2000)  --seconds S (10)\n"
	"  nats-ingest  the same events, one a message, published to a NATS JetStream\n"
	"               stream in files (made anew), up to 4096 awaiting their\n"
	"               acknowledgement; result: events/s acknowledged\n"
	"      --events E (1000000)  --nats-url URL (nats://127.0.0.1:4222)\n"
	"  nats-replay  fill that stream to N events if it holds fewer, then read N\n"
	"               with an ordered consumer from the first; result: events/s\n"
	"      --events N (1000000)  --nats-url URL (nats://127.0.0.1:4222)\n"
	"\n"
	"Against other servers (ingest-http, fanout):\n"
	"  --any-2xx         take any 2xx answer to a post as its events accepted\n"
	"                    (a server that does not answer {\"accepted\":N})\n"
	"  --max-batch N     fanout: events in one post at most (1000); with 1 each\n"
	"                    event is its own post, and its own message to a server\n"
	"                    that relays posts as they are (nchan)\n"
	"\n"
	"Common options:\n"
	"  --post-url URL    where events are posted (default " DEFAULT_POST_URL ")\n"
	"  --ws-url URL      the live feed (default " DEFAULT_WS_URL ")\n"
	"  --ingest-url URL  streaming ingest (default: --ws-url's host, /ws/ingest)\n"
	"  --pid PID         the server's process (default: the one listening on\n"
	"                    --post-url's port), for its CPU and memory; for the\n"
	"                    nats scenarios, the nats-server's\n"
	"  --timeout S       stop a run that takes longer (default 120)\n"
	"  --json            print one line of JSON instead of a table row\n"
	"  --json-out FILE   also append that line of JSON to FILE\n"
	"  --label TEXT      name the run in its row and its JSON (\"label\")\n"
	"  --header          print the Markdown table header first\n"
	"  -v, --verbose     progress on stderr\n"
	"  -h, --help        show this help and exit\n"
	"  -V, --version     show the version and exit\n"
	"\n"
	"Hosts must be loopback addresses. Run with a raised open-file limit for\n"
	"many connections (the tool raises its own soft limit as far as it may).\n";

enum {
	OPT_POST_URL = 256,
	OPT_WS_URL,
	OPT_INGEST_URL,
	OPT_PID,
	OPT_TIMEOUT,
	OPT_JSON,
	OPT_JSON_OUT,
	OPT_LABEL,
	OPT_HEADER,
	OPT_BATCH,
	OPT_PRODUCERS,
	OPT_EVENTS,
	OPT_WINDOW,
	OPT_SUBSCRIBERS,
	OPT_RATE,
	OPT_SECONDS,
	OPT_WARMUP,
	OPT_DRAIN,
	OPT_THREADS,
	OPT_PUBLISHERS,
	OPT_TICK_MS,
	OPT_CONNECTIONS,
	OPT_SETTLE,
	OPT_DIR,
	OPT_COUNT,
	OPT_ANY_2XX,
	OPT_MAX_BATCH,
	OPT_NATS_URL,
	OPT_IDEMPOTENCY,
	OPT_END_,
};

/* Bit of a scenario option in the masks below. */
#define BIT(opt) (1ull << ((opt)-OPT_BATCH))

struct scenario {
	const char *name;
	int (*run)(const struct bench_opts *o, struct report *r);
	unsigned long long options; /* the scenario options it takes */
};

static const struct scenario scenarios[] = {
	{"ingest-http", bench_ingest_http,
	 BIT(OPT_BATCH) | BIT(OPT_PRODUCERS) | BIT(OPT_EVENTS) | BIT(OPT_ANY_2XX) |
		 BIT(OPT_IDEMPOTENCY)},
	{"ingest-ws", bench_ingest_ws,
	 BIT(OPT_BATCH) | BIT(OPT_PRODUCERS) | BIT(OPT_EVENTS) | BIT(OPT_WINDOW)},
	{"fanout", bench_fanout,
	 BIT(OPT_SUBSCRIBERS) | BIT(OPT_RATE) | BIT(OPT_SECONDS) | BIT(OPT_WARMUP) |
		 BIT(OPT_DRAIN) | BIT(OPT_THREADS) | BIT(OPT_PUBLISHERS) | BIT(OPT_TICK_MS) |
		 BIT(OPT_ANY_2XX) | BIT(OPT_MAX_BATCH)},
	{"replay", bench_replay, BIT(OPT_EVENTS)},
	{"idle", bench_idle, BIT(OPT_CONNECTIONS) | BIT(OPT_SETTLE)},
	{"fsync", bench_fsync, BIT(OPT_DIR) | BIT(OPT_COUNT) | BIT(OPT_SECONDS)},
	{"nats-ingest", bench_nats_ingest, BIT(OPT_EVENTS) | BIT(OPT_NATS_URL)},
	{"nats-replay", bench_nats_replay, BIT(OPT_EVENTS) | BIT(OPT_NATS_URL)},
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Say what is wrong with the command line; returns exit status 2. */
static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("sentinel-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'sentinel-bench --help'.\n", stderr);
	return 2;
}

/* Parse a whole number in [min, max]. Returns 0, or -1. */
static int
parse_uint(const char *text, unsigned long long min, unsigned long long max,
	   unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (!*text || *text == '-')
		return -1;
	v = strtoull(text, &end, 10);
	if (*end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Parse a number in [min, max]. Returns 0, or -1. */
static int
parse_real(const char *text, double min, double max, double *out)
{
	char *end;
	double v = strtod(text, &end);

	if (end == text || *end || !isfinite(v) || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Take one scenario option's value. Returns 0, or 2 after saying why. */
static int
take_option(struct bench_opts *o, int opt, const char *name, const char *arg)
{
	unsigned long long u = 0;
	double d = 0;
	int rc = 0;

	switch (opt) {
	case OPT_BATCH:
		rc = parse_uint(arg, 1, 1000000, &u);
		o->batch = (unsigned)u;
		break;
	case OPT_PRODUCERS:
		rc = parse_uint(arg, 1, 4096, &u);
		o->producers = (unsigned)u;
		break;
	case OPT_EVENTS:
		rc = parse_uint(arg, 1, 1000000000000ull, &u);
		o->events = u;
		break;
	case OPT_WINDOW:
		rc = parse_uint(arg, 1, 64, &u);
		o->window = (unsigned)u;
		break;
	case OPT_SUBSCRIBERS:
		rc = parse_uint(arg, 1, 1000000, &u);
		o->subscribers = (unsigned)u;
		break;
	case OPT_RATE:
		rc = parse_real(arg, 0.1, 1e8, &o->rate);
		break;
	case OPT_SECONDS:
		rc = parse_real(arg, 0.01, 86400, &o->seconds);
		break;
	case OPT_WARMUP:
		rc = parse_real(arg, 0, 3600, &o->warmup);
		break;
	case OPT_DRAIN:
		rc = parse_real(arg, 0.01, 3600, &o->drain);
		break;
	case OPT_THREADS:
		rc = parse_uint(arg, 1, 64, &u);
		o->threads = (unsigned)u;
		break;
	case OPT_PUBLISHERS:
		rc = parse_uint(arg, 1, 1024, &u);
		o->publishers = (unsigned)u;
		break;
	case OPT_TICK_MS:
		rc = parse_uint(arg, 1, 1000, &u);
		o->tick_ms = (unsigned)u;
		break;
	case OPT_CONNECTIONS:
		rc = parse_uint(arg, 1, 1000000, &u);
		o->connections = (unsigned)u;
		break;
	case OPT_SETTLE:
		rc = parse_real(arg, 0, 3600, &d);
		o->settle = d;
		break;
	case OPT_DIR:
		rc = *arg ? 0 : -1;
		o->dir = arg;
		break;
	case OPT_COUNT:
		rc = parse_uint(arg, 1, 100000000, &u);
		o->count = (unsigned)u;
		break;
	case OPT_ANY_2XX:
		o->any_2xx = 1;
		return 0;
	case OPT_IDEMPOTENCY:
		o->idempotency = 1;
		return 0;
	case OPT_MAX_BATCH:
		rc = parse_uint(arg, 1, 1000, &u);
		o->max_batch = (unsigned)u;
		break;
	case OPT_NATS_URL:
		rc = strncmp(arg, "nats://", 7) ? -1 : 0;
		o->nats_url = arg;
		break;
	default:
		rc = -1;
	}
	return rc ? usage_error("--%s: bad value '%s'", name, arg) : 0;
}

/* Append r's JSON line to path. Returns 0, or -1 after saying why. */
static int
append_json(const struct report *r, const char *path)
{
	FILE *f = fopen(path, "a");
	int rc;

	if (!f) {
		fprintf(stderr, "sentinel-bench: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	rc = report_print(r, f, 1);
	if (fclose(f) || rc) {
		fprintf(stderr, "sentinel-bench: cannot write %s\n", path);
		return -1;
	}
	return 0;
}

/*
 * Resolve t's host to its loopback addresses and derive what the scenarios
 * send. Returns 0, or 2 after saying why (flag names the option).
 */
static int
take_target(struct bench_target *t, const char *flag)
{
	char errmsg[ERRMSG_SIZE];
	int rc = resolve_host(t->url.host, t->url.port, RESOLVE_LOOPBACK, &t->addrs, errmsg);

	if (rc == ERR_INVAL)
		return usage_error("%s: %s: sentinel-bench only loads a server on this machine",
				   flag, errmsg);
	if (rc)
		return usage_error("%s: %s", flag, errmsg);
	if (resolve_text(&t->addrs.addr[0], t->address))
		return usage_error("%s: cannot print the address of '%s'", flag, t->url.host);
	if (url_request_path(&t->url, t->path, sizeof t->path))
		return usage_error("%s: too long", flag);
	return 0;
}

/* Parse text, a URL of scheme, into t and resolve it. Returns 0, or 2 after saying why. */
static int
take_url(struct bench_target *t, const char *flag, const char *text, unsigned scheme)
{
	char errmsg[ERRMSG_SIZE];

	if (url_parse(text, scheme, "/", &t->url, errmsg))
		return usage_error("%s: %s", flag, errmsg);
	return take_target(t, flag);
}

/* t is u's host with another path (and no query). Returns 0, or 2 after saying why. */
static int
take_sibling(struct bench_target *t, const struct bench_target *u, const char *path,
	     const char *flag)
{
	t->url = u->url;
	snprintf(t->url.path, sizeof t->url.path, "%s", path);
	t->url.query[0] = '\0';
	return take_target(t, flag);
}

/* Parse and resolve the URLs. Returns 0, or 2 after saying why. */
static int
take_urls(struct bench_opts *o, const char *post, const char *ws, const char *ingest)
{
	if (take_url(&o->post, "--post-url", post, URL_HTTP) ||
	    take_url(&o->ws, "--ws-url", ws, URL_WS))
		return 2;
	if (ingest ? take_url(&o->ingest, "--ingest-url", ingest, URL_WS)
		   : take_sibling(&o->ingest, &o->ws, "/ws/ingest", "--ws-url"))
		return 2;
	return take_sibling(&o->stats, &o->post, "/api/stats", "--post-url");
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
		{"post-url", required_argument, NULL, OPT_POST_URL},
		{"ws-url", required_argument, NULL, OPT_WS_URL},
		{"ingest-url", required_argument, NULL, OPT_INGEST_URL},
		{"pid", required_argument, NULL, OPT_PID},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"json", no_argument, NULL, OPT_JSON},
		{"json-out", required_argument, NULL, OPT_JSON_OUT},
		{"label", required_argument, NULL, OPT_LABEL},
		{"header", no_argument, NULL, OPT_HEADER},
		{"batch", required_argument, NULL, OPT_BATCH},
		{"producers", required_argument, NULL, OPT_PRODUCERS},
		{"events", required_argument, NULL, OPT_EVENTS},
		{"window", required_argument, NULL, OPT_WINDOW},
		{"subscribers", required_argument, NULL, OPT_SUBSCRIBERS},
		{"rate", required_argument, NULL, OPT_RATE},
		{"seconds", required_argument, NULL, OPT_SECONDS},
		{"warmup", required_argument, NULL, OPT_WARMUP},
		{"drain", required_argument, NULL, OPT_DRAIN},
		{"threads", required_argument, NULL, OPT_THREADS},
		{"publishers", required_argument, NULL, OPT_PUBLISHERS},
		{"tick-ms", required_argument, NULL, OPT_TICK_MS},
		{"connections", required_argument, NULL, OPT_CONNECTIONS},
		{"settle", required_argument, NULL, OPT_SETTLE},
		{"dir", required_argument, NULL, OPT_DIR},
		{"count", required_argument, NULL, OPT_COUNT},
		{"any-2xx", no_argument, NULL, OPT_ANY_2XX},
		{"max-batch", required_argument, NULL, OPT_MAX_BATCH},
		{"nats-url", required_argument, NULL, OPT_NATS_URL},
		{"idempotency", no_argument, NULL, OPT_IDEMPOTENCY},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *post = DEFAULT_POST_URL, *ws = DEFAULT_WS_URL, *ingest = NULL, *json_out = NULL,
		   *label = NULL;
	const struct scenario *sc = NULL;
	unsigned long long given = 0, u;
	struct bench_opts o;
	struct report r;
	int c, idx, rc;

	memset(&o, 0, sizeof o);
	o.timeout_s = DEFAULT_TIMEOUT;
	o.warmup = -1; /* 0 is a valid warm-up */
	o.nats_url = "nats://127.0.0.1:4222";
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":vhV", options, &idx)) != -1) {
		switch (c) {
		case OPT_POST_URL:
			post = optarg;
			break;
		case OPT_WS_URL:
			ws = optarg;
			break;
		case OPT_INGEST_URL:
			ingest = optarg;
			break;
		case OPT_PID:
			if (parse_uint(optarg, 1, 4194304, &u))
				return usage_error("--pid: bad value '%s'", optarg);
			o.pid = (pid_t)u;
			break;
		case OPT_TIMEOUT:
			if (parse_real(optarg, 1, 86400, &o.timeout_s))
				return usage_error("--timeout: bad value '%s'", optarg);
			break;
		case OPT_JSON:
			o.json = 1;
			break;
		case OPT_JSON_OUT:
			if (!*optarg)
				return usage_error("--json-out: empty path");
			json_out = optarg;
			break;
		case OPT_LABEL:
			label = optarg;
			break;
		case OPT_HEADER:
			o.header = 1;
			break;
		case 'v':
			o.verbose++;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			printf("sentinel-bench %s\n", SENTINEL_VERSION);
			return 0;
		case ':':
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		case '?':
			return usage_error("unknown option '%s'", argv[optind - 1]);
		default:
			if (c < OPT_BATCH || c >= OPT_END_)
				return usage_error("unknown option '%s'", argv[optind - 1]);
			if (take_option(&o, c, options[idx].name, optarg))
				return 2;
			given |= BIT(c);
		}
	}
	if (optind >= argc)
		return usage_error("no scenario given");
	for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
		if (!strcmp(argv[optind], scenarios[i].name))
			sc = &scenarios[i];
	if (!sc)
		return usage_error("unknown scenario '%s'", argv[optind]);
	if (optind + 1 < argc)
		return usage_error("unexpected argument '%s'", argv[optind + 1]);
	for (int opt = OPT_BATCH; opt < OPT_END_; opt++) {
		if ((given & BIT(opt)) && !(sc->options & BIT(opt))) {
			for (idx = 0; options[idx].val != opt; idx++)
				;
			return usage_error("--%s does not apply to %s", options[idx].name,
					   sc->name);
		}
	}
	if ((rc = take_urls(&o, post, ws, ingest)))
		return rc;
	log_set_level(o.verbose > 1 ? LOG_DEBUG : o.verbose ? LOG_INFO : LOG_WARN);
	lws_set_log_level(LLL_ERR | LLL_WARN, lwslog_line);

	report_init(&r, sc->name, label);
	rc = sc->run(&o, &r);
	if (o.header && !o.json)
		report_print_header();
	if (report_print(&r, stdout, o.json) || fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "sentinel-bench: cannot print the result\n");
		rc = 1;
	}
	if (json_out && append_json(&r, json_out))
		rc = 1;
	report_free(&r);
	return rc ? 1 : 0;
}
