/*
 * sentinel-tail: follow a sentinel-logd server's /ws/logs in a terminal.
 * This file is the command line: it checks every flag before anything
 * connects (a bad one exits 2), reads the state file, and hands over to
 * tail_run().
 */
#include <getopt.h>
#include <libwebsockets.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cursor.h"
#include "err.h"
#include "log.h"
#include "query.h"
#include "state.h"
#include "tail.h"
#include "timestamp.h"
#include "url.h"
#include "version.h"

#define DEFAULT_URL  "ws://127.0.0.1:8000/ws/logs"
#define DEFAULT_PATH "/ws/logs"

static const char usage[] =
	"Usage: sentinel-tail [OPTIONS]\n"
	"\n"
	"Follow a sentinel-logd server's live feed (/ws/logs) and print each event\n"
	"once, in id order. When the connection drops, reconnect after 1 s, 2 s,\n"
	"4 s ... (at most 30 s) and resume after the last event printed, so that\n"
	"nothing is missed and nothing is printed twice.\n"
	"\n"
	"Options:\n"
	"  --url URL        the feed to follow (default " DEFAULT_URL ");\n"
	"                   its own query parameters, such as token=, are kept.\n"
	"                   wss:// checks the server's certificate against the\n"
	"                   system's CAs (or the file named by SSL_CERT_FILE)\n"
	"  --state FILE     remember the last event printed in FILE, and resume\n"
	"                   after it when started again (written at most every\n"
	"                   100 ms and on exit)\n"
	"  --since T        without a saved state, first print stored events from\n"
	"                   T on: an ISO 8601 time (2026-03-09T14:00:00Z), a\n"
	"                   duration back from when sentinel-tail starts (90s,\n"
	"                   10m, 2h, 7d) or 'all'.\n"
	"                   Default: only events committed from now on.\n"
	"  --type A,B       only events of these types\n"
	"  --json           print each event as the JSON line the server sent;\n"
	"                   default: [timestamp] [type] message, with control\n"
	"                   characters shown escaped\n"
	"  -v, --verbose    report connections on stderr (twice: debug detail)\n"
	"  -h, --help       show this help and exit\n"
	"  -V, --version    show the version and exit\n"
	"\n"
	"Events go to stdout; notices (events removed by retention, a re-created\n"
	"store) and errors go to stderr. SIGINT or SIGTERM closes the connection,\n"
	"saves the state and exits 0. Exit status 2: bad usage; 1: an error that\n"
	"retrying cannot fix, such as the server refusing the subscription.\n";

/* Say what is wrong with the command line; returns exit status 2. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("sentinel-tail: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'sentinel-tail --help'.\n", stderr);
	return 2;
}

/*
 * Check since as the server would, and turn a duration into the time it
 * names now, so that a reconnect replays from the same point. out holds
 * TIMESTAMP_FORMAT_SIZE bytes. Returns 0, or 2 after saying why.
 */
static int
resolve_since(const char *since, char *out, const char **resolved)
{
	char errmsg[ERRMSG_SIZE];
	struct query q;
	int64_t us;

	query_init(&q);
	if (query_set_subscribe(&q, "since", since, timestamp_now(), errmsg))
		return usage_error("--since: %s", errmsg);
	if (!timestamp_parse_duration(since, strlen(since), &us)) {
		timestamp_format(timestamp_now() - us, out);
		*resolved = out;
	} else {
		*resolved = since;
	}
	return 0;
}

/* Check a type list as the server would. Returns 0, or 2 after saying why. */
static int
check_types(const char *types)
{
	char errmsg[ERRMSG_SIZE];
	struct query q;

	query_init(&q);
	if (query_set_subscribe(&q, "type", types, 0, errmsg))
		return usage_error("--type: %s", errmsg);
	return 0;
}

int
main(int argc, char **argv)
{
	enum { OPT_URL = 256, OPT_STATE, OPT_SINCE, OPT_TYPE, OPT_JSON };
	static const struct option options[] = {
		{"url", required_argument, NULL, OPT_URL},
		{"state", required_argument, NULL, OPT_STATE},
		{"since", required_argument, NULL, OPT_SINCE},
		{"type", required_argument, NULL, OPT_TYPE},
		{"json", no_argument, NULL, OPT_JSON},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct tail_options opt;
	const char *url = DEFAULT_URL, *since = NULL;
	char since_buf[TIMESTAMP_FORMAT_SIZE], errmsg[ERRMSG_SIZE];
	struct state resume;
	int c, found = 0;

	memset(&opt, 0, sizeof opt);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":vhV", options, NULL)) != -1) {
		switch (c) {
		case OPT_URL:
			url = optarg;
			break;
		case OPT_STATE:
			if (!*optarg)
				return usage_error("--state: empty path");
			opt.state_path = optarg;
			break;
		case OPT_SINCE:
			since = optarg;
			break;
		case OPT_TYPE:
			if (check_types(optarg))
				return 2;
			opt.types = optarg;
			break;
		case OPT_JSON:
			opt.json = 1;
			break;
		case 'v':
			opt.verbose++;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			printf("sentinel-tail %s\n", SENTINEL_VERSION);
			return 0;
		case ':':
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (url_parse(url, URL_WS | URL_WSS, DEFAULT_PATH, &opt.url, errmsg) ||
	    cursor_check_query(opt.url.query, errmsg))
		return usage_error("--url: %s", errmsg);
#if !defined(LWS_WITH_TLS)
	if (opt.url.tls)
		return usage_error("--url: wss:// needs libwebsockets built with TLS");
#endif
	if (since && resolve_since(since, since_buf, &opt.since))
		return 2;
	log_set_level(opt.verbose > 1 ? LOG_DEBUG : opt.verbose ? LOG_INFO : LOG_WARN);

	if (opt.state_path) {
		if (state_load(opt.state_path, &resume, &found, errmsg) ||
		    state_check_writable(opt.state_path, errmsg)) {
			fprintf(stderr, "sentinel-tail: %s\n", errmsg);
			return 1;
		}
		if (found) {
			opt.resume = &resume;
			log_info("resuming after id %lld of epoch %s%s", (long long)resume.last_id,
				 resume.epoch,
				 since ? " (--since applies to a fresh start only)" : "");
		}
	}
	return tail_run(&opt);
}
