/*
 * sentinel-import: JSON lines into a store, the reverse of sentinel-export.
 *
 * Input lines are cut into batches (--batch lines, and at most
 * IMPORT_BATCH_BYTES); a batch is stored whole or not at all. With --db the
 * batch is validated by ingest_parse(), exactly as the server validates a
 * request, and appended in one transaction of our own store handle; with
 * --url it is posted to a running server's POST /api/events, which does the
 * same. Either way every member of an event is kept byte for byte (the
 * timestamp too; an event without one gets the import time, as on ingest)
 * and the store gives it a new id.
 *
 * A line as sentinel-export writes it starts with {"id":N, - the old id is
 * cut out of the text (a store never accepts an id from a producer) and
 * the rest of the line is left as it was. An "id" anywhere else is refused
 * by the validation. The first bad line stops the import with its line
 * number; batches before it stay imported.
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "err.h"
#include "httpc.h"
#include "ingest.h"
#include "store.h"
#include "units.h"
#include "url.h"
#include "version.h"

#define PROG                 "sentinel-import"
#define IMPORT_BATCH_DEFAULT 1000
#define IMPORT_BATCH_MAX     1000000
/* A batch is also cut at this size, to stay below a server's default
 * request body limit (16 MiB). */
#define IMPORT_BATCH_BYTES ((size_t)8 << 20)
/* How long the server may take to make progress on a request. */
#define IMPORT_TIMEOUT_S 120

static const char usage[] =
	"Usage: " PROG " (--db PATH | --url URL) [OPTIONS] [FILE...]\n"
	"\n"
	"Read events as JSON lines (from each FILE, or standard input when there is\n"
	"none or FILE is -) and store them with new ids, keeping every field and\n"
	"timestamp as written. Lines written by sentinel-export, which start with\n"
	"{\"id\":N, are accepted: the old id is dropped. Events are stored in\n"
	"batches, each one whole or not at all; the first bad line stops the import\n"
	"and is reported with its line number.\n"
	"\n"
	"Destination (exactly one):\n"
	"  --db PATH        write into this store file, created with its folders and\n"
	"                   migrated if needed. Not for a store a server is running\n"
	"                   on: its subscribers would not see the events; use --url.\n"
	"  --url URL        post to a running sentinel-logd, http://HOST:PORT\n"
	"\n"
	"Options:\n"
	"  --batch N        events per batch (default 1000; a batch is also cut at\n"
	"                   8MiB)\n"
	"  --max-event-bytes SIZE\n"
	"                   largest event accepted with --db (default 256KiB)\n"
	"  --token TOKEN    with --url: send Authorization: Bearer TOKEN (default:\n"
	"                   the SENTINEL_TOKEN environment variable)\n"
	"  -h, --help       show this help and exit\n"
	"  -V, --version    show the version and exit\n"
	"\n"
	"Exit status: 0 when every event was imported, 1 otherwise, 2 for bad\n"
	"arguments.\n";

struct options {
	const char *db_path;
	const char *url;
	const char *token;
	size_t batch_max;
	size_t event_max;
};

struct importer {
	store *st;               /* --db */
	struct event_base *base; /* --url: the loop of http */
	httpc *http;
	char *headers; /* extra request headers for --url */
	size_t batch_max, event_max;

	/* The batch being built: its lines joined with '\n', and the line
	 * number of each event in it. */
	const char *source; /* the input's name, NULL for standard input */
	char *buf;
	size_t len, cap;
	long *lines;
	size_t count, lines_cap;

	uint64_t imported;
	int64_t first_id, last_id;
};

/* Say what is wrong with the command line; returns -1. */
static int
usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, PROG ": ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry '" PROG " --help'.\n");
	return -1;
}

/* A decimal number of things (no size suffix). */
static int
parse_count(const char *text, size_t *out)
{
	char *end;
	unsigned long long v;

	if (*text < '0' || *text > '9')
		return ERR_INVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end || v > SIZE_MAX)
		return ERR_INVAL;
	*out = (size_t)v;
	return 0;
}

/* Fill opt from argv. Returns 0, 1 after --help/--version, -1 on bad usage. */
static int
parse_args(struct options *opt, int argc, char **argv)
{
	enum { OPT_DB = 256, OPT_URL, OPT_BATCH, OPT_EVENT_MAX, OPT_TOKEN };
	static const struct option options[] = {
		{"db", required_argument, NULL, OPT_DB},
		{"url", required_argument, NULL, OPT_URL},
		{"batch", required_argument, NULL, OPT_BATCH},
		{"max-event-bytes", required_argument, NULL, OPT_EVENT_MAX},
		{"token", required_argument, NULL, OPT_TOKEN},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c;

	opt->batch_max = IMPORT_BATCH_DEFAULT;
	opt->event_max = INGEST_EVENT_MAX_DEFAULT;
	opt->token = getenv("SENTINEL_TOKEN");
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hV", options, NULL)) != -1) {
		size_t n;
		switch (c) {
		case OPT_DB:
			if (!*optarg)
				return usage_error("invalid --db '%s': empty path", optarg);
			opt->db_path = optarg;
			break;
		case OPT_URL:
			opt->url = optarg;
			break;
		case OPT_BATCH:
			if (parse_count(optarg, &n) || n < 1 || n > IMPORT_BATCH_MAX)
				return usage_error("invalid --batch '%s': expected a number "
						   "from 1 to 1000000",
						   optarg);
			opt->batch_max = n;
			break;
		case OPT_EVENT_MAX:
			if (units_parse_size(optarg, &n) || n < 1024)
				return usage_error("invalid --max-event-bytes '%s': expected a "
						   "size of at least 1024 bytes, e.g. 256KiB",
						   optarg);
			opt->event_max = n;
			break;
		case OPT_TOKEN:
			opt->token = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		case 'V':
			printf(PROG " %s\n", SENTINEL_VERSION);
			return 1;
		case ':':
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (!opt->db_path == !opt->url)
		return usage_error("%s", "give exactly one destination: --db PATH or --url URL");
	return 0;
}

/* Say what is wrong with a line of the current input. */
static void
report_line(const struct importer *im, long line, const char *msg)
{
	if (im->source)
		fprintf(stderr, PROG ": %s: line %ld: %s\n", im->source, line, msg);
	else
		fprintf(stderr, PROG ": line %ld: %s\n", line, msg);
}

/*
 * Say what is wrong with the batch's event at index. When that event has a
 * top-level "id" (which the validation refuses), also say where one is
 * accepted.
 */
static void
report_event(const struct importer *im, size_t index, const char *msg)
{
	const char *p = im->buf, *end = im->buf + im->len, *nl;
	char full[800];
	json_t *root;

	if (index >= im->count) { /* not one of ours: no line to name */
		fprintf(stderr, PROG ": %s\n", msg);
		return;
	}
	for (size_t i = 0; i < index && p < end; i++) {
		nl = memchr(p, '\n', (size_t)(end - p));
		p = nl ? nl + 1 : end;
	}
	nl = memchr(p, '\n', (size_t)(end - p));
	root = json_loadb(p, (size_t)((nl ? nl : end) - p), 0, NULL);
	if (json_is_object(root) && json_object_get(root, "id"))
		snprintf(full, sizeof full,
			 "%s; an \"id\" is accepted only as the first "
			 "member, {\"id\":N, as sentinel-export writes it",
			 msg);
	else
		snprintf(full, sizeof full, "%s", msg);
	json_decref(root);
	report_line(im, im->lines[index], full);
}

/*
 * Say that the batch ending at line last was not stored (or, with
 * maybe_stored, that we cannot know), and what earlier batches stored.
 */
static void
report_batch_lost(const struct importer *im, long last, int maybe_stored)
{
	long first = im->count ? im->lines[0] : last;

	if (last > 0)
		fprintf(stderr, PROG ": %s the batch of lines %ld to %ld\n",
			maybe_stored ? "no answer: the server may or may not have stored"
				     : "nothing was stored of",
			first, last);
	if (im->imported)
		fprintf(stderr,
			PROG ": %llu events of earlier batches were imported "
			     "(ids %lld to %lld)\n",
			(unsigned long long)im->imported, (long long)im->first_id,
			(long long)im->last_id);
}

/* Count a committed batch in the totals. */
static void
batch_stored(struct importer *im, int64_t first_id, int64_t last_id)
{
	if (!im->imported)
		im->first_id = first_id;
	im->last_id = last_id;
	im->imported += im->count;
}

/* Validate the batch and append it in one transaction of our store. */
static int
flush_db(struct importer *im)
{
	struct ingest_error ierr;
	struct ingest_batch *b;
	int64_t first = 0, id = 0;
	int rc, in_tx = 0;

	b = ingest_parse(im->buf, im->len, INGEST_NDJSON, im->event_max, &ierr);
	if (!b) {
		if (ierr.code == ERR_NOMEM || ierr.index >= im->count)
			fprintf(stderr, PROG ": %s\n", ierr.msg);
		else
			report_event(im, ierr.index, ierr.msg);
		return -1;
	}
	if (b->count != im->count) { /* cannot be: we never pass blank lines */
		fprintf(stderr, PROG ": internal error: %zu events in a batch of %zu lines\n",
			b->count, im->count);
		ingest_batch_free(b);
		return -1;
	}
	if ((rc = store_begin(im->st)))
		goto fail;
	in_tx = 1;
	for (size_t i = 0; i < b->count; i++) {
		if ((rc = store_append(im->st, &b->events[i], &id)))
			goto fail;
		if (i == 0)
			first = id;
	}
	if ((rc = store_commit(im->st)))
		goto fail;
	ingest_batch_free(b);
	batch_stored(im, first, id);
	return 0;
fail:
	/* Reported before the rollback, whose own error would replace it. */
	fprintf(stderr, PROG ": cannot write the store: %s (%s)\n", store_errmsg(im->st),
		err_str(rc));
	/* SQLite may have rolled back already, and the import stops here, so
	 * the rollback's result changes nothing. */
	if (in_tx)
		(void)store_rollback(im->st);
	ingest_batch_free(b);
	return -1;
}

/* An integer member of o, or 0 when absent or null. */
static int64_t
member_int(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* Post the batch to the server and check its answer. */
static int
flush_url(struct importer *im)
{
	struct httpc_answer resp;
	json_t *answer;
	int status = -1;

	if (httpc_call(im->http, "POST", "/api/events", im->headers, im->buf, im->len, &resp)) {
		fprintf(stderr, PROG ": %s\n", httpc_errmsg(im->http));
		return httpc_maybe_sent(im->http) ? -2 : -1;
	}
	answer = json_loadb(resp.body, resp.len, 0, NULL);
	if (resp.status == 200) {
		if (!json_is_object(answer) ||
		    member_int(answer, "accepted") != (int64_t)im->count) {
			fprintf(stderr, PROG ": unexpected answer from the server: %.200s\n",
				resp.body);
			status = -2;
			goto out;
		}
		batch_stored(im, member_int(answer, "first_id"), member_int(answer, "last_id"));
		status = 0;
		goto out;
	}

	json_t *error = json_object_get(answer, "error");
	json_t *index = json_object_get(answer, "index");
	char msg[600];
	snprintf(msg, sizeof msg, "%s (the server answered %d%s)",
		 json_is_string(error) ? json_string_value(error) : resp.body, resp.status,
		 resp.status == 413 ? "; a smaller --batch may fit" : "");
	if (json_is_integer(index) && json_integer_value(index) >= 0 &&
	    (size_t)json_integer_value(index) < im->count)
		report_event(im, (size_t)json_integer_value(index), msg);
	else
		fprintf(stderr, PROG ": %s\n", msg);
out:
	json_decref(answer);
	httpc_answer_free(&resp);
	return status;
}

/* Store the batch built so far, then start a new one. */
static int
flush(struct importer *im)
{
	int rc;

	if (im->count == 0)
		return 0;
	rc = im->st ? flush_db(im) : flush_url(im);
	if (rc) {
		report_batch_lost(im, im->lines[im->count - 1], rc == -2);
		return -1;
	}
	im->len = 0;
	im->count = 0;
	return 0;
}

/* Make room for len more bytes and one more line in the batch. */
static int
reserve(struct importer *im, size_t len)
{
	if (im->len + len > im->cap) {
		size_t cap = im->cap ? im->cap : (size_t)64 << 10;
		while (cap < im->len + len)
			cap *= 2;
		char *buf = realloc(im->buf, cap);
		if (!buf)
			return -1;
		im->buf = buf;
		im->cap = cap;
	}
	if (im->count == im->lines_cap) {
		size_t cap = im->lines_cap ? im->lines_cap * 2 : 1024;
		long *lines = realloc(im->lines, cap * sizeof *lines);
		if (!lines)
			return -1;
		im->lines = lines;
		im->lines_cap = cap;
	}
	return 0;
}

/*
 * If the line starts with sentinel-export's {"id":N, set *skip to the
 * length of "id":N, (the text to cut after the brace). Returns 0, or -1
 * when the line starts with {"id": but not in that form.
 */
static int
export_id_prefix(const char *line, size_t len, size_t *skip)
{
	static const char head[] = "{\"id\":";
	size_t i = 0, digits;

	*skip = 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (len - i < sizeof head - 1 || memcmp(line + i, head, sizeof head - 1) != 0)
		return 0;
	i += sizeof head - 1;
	digits = 0;
	while (i + digits < len && line[i + digits] >= '0' && line[i + digits] <= '9')
		digits++;
	if (digits == 0 || digits > 19 || i + digits >= len || line[i + digits] != ',')
		return -1;
	*skip = sizeof head - 2 + digits + 1;
	return 0;
}

/* True for a line that ingest_parse() would skip (only whitespace). */
static int
is_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return 0;
	return 1;
}

/* Add one input line to the batch, flushing it when full. */
static int
add_line(struct importer *im, const char *line, size_t len, long lineno)
{
	size_t skip, brace;

	if (len && line[len - 1] == '\n')
		len--;
	if (is_blank(line, len))
		return 0;
	if (im->len && (im->count >= im->batch_max || im->len + len + 1 > IMPORT_BATCH_BYTES) &&
	    flush(im))
		return -1;
	if (export_id_prefix(line, len, &skip)) {
		report_line(im, lineno,
			    "\"id\" is accepted only as sentinel-export writes "
			    "it: first, {\"id\":N, with N a non-negative integer and the "
			    "event's other members after it");
		report_batch_lost(im, lineno, 0);
		return -1;
	}
	if (reserve(im, len + 1)) {
		fprintf(stderr, PROG ": out of memory\n");
		return -1;
	}
	/* Keep everything but the "id":N, member: the brace, then the rest. */
	brace = skip ? (size_t)((const char *)memchr(line, '{', len) - line) + 1 : 0;
	memcpy(im->buf + im->len, line, brace);
	memcpy(im->buf + im->len + brace, line + brace + skip, len - brace - skip);
	im->len += len - skip;
	im->buf[im->len++] = '\n';
	im->lines[im->count++] = lineno;
	return 0;
}

/* Import one input to its end; name is NULL for standard input. */
static int
import_stream(struct importer *im, FILE *f, const char *name)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long lineno = 0;
	int rc = 0;

	im->source = name;
	while ((n = getline(&line, &cap, f)) >= 0) {
		if ((rc = add_line(im, line, (size_t)n, ++lineno)))
			break;
	}
	if (!rc && ferror(f)) {
		fprintf(stderr, PROG ": cannot read %s: %s\n", name ? name : "standard input",
			strerror(errno));
		rc = -1;
	}
	if (!rc)
		rc = flush(im);
	free(line);
	return rc;
}

/* Open the destination named by opt. */
static int
open_destination(struct importer *im, const struct options *opt)
{
	char errmsg[ERRMSG_SIZE];
	struct url url;
	int err, rc;

	if (opt->db_path) {
		im->st = store_open(opt->db_path, STORE_WRITE, &err, errmsg);
		if (!im->st) {
			fprintf(stderr, PROG ": cannot open the store %s\n", errmsg);
			return -1;
		}
		return 0;
	}
	rc = url_parse(opt->url, URL_HTTP, "/", &url, errmsg);
	/* Events go to POST /api/events: the URL names the server only. */
	if (!rc && (strcmp(url.path, "/") || url.query[0]))
		rc = err_set(errmsg, ERR_INVAL,
			     "expected http://HOST:PORT (events go to its /api/events)");
	if (rc) {
		fprintf(stderr, PROG ": invalid --url '%s': %s\n", opt->url, errmsg);
		return -1;
	}
	im->base = event_base_new();
	im->http = im->base ? httpc_new(im->base, &url, NULL, NULL, NULL) : NULL;
	if (!im->http) {
		fprintf(stderr, PROG ": cannot set up the HTTP client (out of memory?)\n");
		return -1;
	}
	httpc_set_timeout(im->http, IMPORT_TIMEOUT_S);
	size_t need = 128 + (opt->token ? strlen(opt->token) : 0);
	im->headers = malloc(need);
	if (!im->headers) {
		fprintf(stderr, PROG ": out of memory\n");
		return -1;
	}
	snprintf(im->headers, need, "Content-Type: application/x-ndjson\r\n%s%s%s",
		 opt->token ? "Authorization: Bearer " : "", opt->token ? opt->token : "",
		 opt->token ? "\r\n" : "");
	return 0;
}

int
main(int argc, char **argv)
{
	struct options opt = {0};
	struct importer im = {0};
	int rc, status = 1;

	rc = parse_args(&opt, argc, argv);
	if (rc) {
		status = rc > 0 ? 0 : 2;
		goto out;
	}
	signal(SIGPIPE, SIG_IGN); /* a closed socket is an error to report */
	im.batch_max = opt.batch_max;
	im.event_max = opt.event_max;
	if (open_destination(&im, &opt))
		goto out;

	if (optind == argc) {
		if (import_stream(&im, stdin, NULL))
			goto out;
	}
	for (int i = optind; i < argc; i++) {
		FILE *f = strcmp(argv[i], "-") ? fopen(argv[i], "r") : stdin;
		if (!f) {
			fprintf(stderr, PROG ": cannot open %s: %s\n", argv[i], strerror(errno));
			report_batch_lost(&im, 0, 0);
			goto out;
		}
		rc = import_stream(&im, f, f == stdin ? NULL : argv[i]);
		if (f != stdin)
			fclose(f);
		if (rc)
			goto out;
	}
	if (im.imported)
		printf("imported %llu events (ids %lld to %lld)\n", (unsigned long long)im.imported,
		       (long long)im.first_id, (long long)im.last_id);
	else
		printf("imported 0 events\n");
	status = 0;
out:
	if (fflush(stdout) != 0 && status == 0) {
		fprintf(stderr, PROG ": cannot write standard output: %s\n", strerror(errno));
		status = 1;
	}
	store_close(im.st);
	httpc_free(im.http);
	if (im.base)
		event_base_free(im.base);
	free(im.headers);
	free(im.buf);
	free(im.lines);
	return status;
}
