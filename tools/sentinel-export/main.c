/*
 * sentinel-export: the events of a store as JSON lines, one event a line
 * exactly as the server sends it ({"id":N, then the stored members), in id
 * order.
 *
 * The whole export is one read transaction (store_export.h), so it is one
 * consistent state of the store even while a server writes to it: ids run
 * without a hole from the first line to the last. Rows go from SQLite
 * through one reused line buffer into a large stdio buffer, so memory does
 * not grow with the store. With -o FILE the output is written to FILE.tmp
 * and renamed to FILE only after everything was written and synced: a
 * failed export never leaves half a FILE. Every write error (a full disk,
 * a closed pipe) is reported and makes the exit status non-zero.
 *
 * With --with-hash the export is the hash chain (chain.h) from --after-id
 * on, so that anyone can check it offline (tools/sentinel-verify): a first
 * line {"chain":"anchor","id":A,"hash":H} with the link the rest follows
 * from, then every event with its link right after its id
 * ({"id":N,"hash":H,...}), and {"chain":"deleted","id":N,"hash":H} where
 * retention deleted an event between kept ones.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chain.h"
#include "err.h"
#include "store_export.h"
#include "timestamp.h"
#include "version.h"
#include "wire.h"

#define PROG            "sentinel-export"
#define OUT_BUFFER_SIZE ((size_t)1 << 20)

static const char usage[] =
	"Usage: " PROG " [OPTIONS]\n"
	"\n"
	"Write the events of a sentinel-logd store as JSON lines, one event a line\n"
	"exactly as the server sends it, in id order. The store may be in use by a\n"
	"running server: the export is one consistent snapshot of it.\n"
	"\n"
	"Options:\n"
	"  --db PATH        store file to read (default data/sentinel.db)\n"
	"  --since T        only events whose timestamp is at or after T\n"
	"  --until T        only events whose timestamp is before T\n"
	"  --after-id N     only events with an id greater than N\n"
	"  --type A,B       only events of these types\n"
	"  --with-hash      write the hash chain: each event's link (\"hash\", right\n"
	"                   after \"id\"), the anchor first, and the links of\n"
	"                   events retention deleted; sentinel-verify checks it.\n"
	"                   Only with --after-id: a chain has no holes\n"
	"  -o, --output FILE\n"
	"                   write to FILE (default: standard output); FILE appears\n"
	"                   only once the export is complete\n"
	"  -h, --help       show this help and exit\n"
	"  -V, --version    show the version and exit\n"
	"\n"
	"T is an ISO 8601 time (2026-03-09T14:00:00, with or without Z or an\n"
	"offset; no zone means UTC) or a duration back from now (90s, 10m, 2h, 7d).\n"
	"\n"
	"Exit status: 0 on success, 1 when the export failed, 2 for bad arguments.\n";

struct options {
	const char *db_path;
	const char *out_path; /* NULL: standard output */
	char *type_list;      /* the --type argument, split in place */
	const char **types;
	struct store_range range;
	int with_hash;
};

/* Where the lines go, and the line being built. */
struct output {
	FILE *f;
	const char *name; /* for messages */
	char *line;
	size_t line_cap;
	int write_errno; /* errno of the failed write, 0 if none */
	int64_t bad_id;  /* id of a stored body that is not an object */
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

/* An ISO 8601 time or a duration back from now. */
static int
parse_time(const char *text, int64_t now_us, int64_t *out)
{
	int64_t us;

	if (!timestamp_parse_duration(text, strlen(text), &us)) {
		*out = now_us - us;
		return 0;
	}
	return timestamp_parse(text, strlen(text), out);
}

/* A non-negative decimal integer that fits in int64. */
static int
parse_id(const char *text, int64_t *out)
{
	char *end;
	long long v;

	if (*text < '0' || *text > '9')
		return ERR_INVAL;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno || *end)
		return ERR_INVAL;
	*out = v;
	return 0;
}

/* Split "a,b" in place into opt->types, checking every name. */
static int
parse_types(struct options *opt, const char *arg)
{
	size_t count = 1;

	for (const char *p = arg; *p; p++)
		count += *p == ',';
	free(opt->type_list);
	free(opt->types);
	opt->type_list = strdup(arg);
	opt->types = calloc(count, sizeof *opt->types);
	if (!opt->type_list || !opt->types) {
		fprintf(stderr, PROG ": out of memory\n");
		return -1;
	}
	opt->range.type_count = 0;
	for (char *p = opt->type_list;;) {
		char *comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		if (!logevent_type_valid(p, strlen(p)))
			return usage_error("invalid --type '%s': each type must be 1-64 "
					   "characters of A-Za-z0-9_.:-",
					   arg);
		opt->types[opt->range.type_count++] = p;
		if (!comma)
			break;
		p = comma + 1;
	}
	opt->range.types = opt->types;
	return 0;
}

/* Fill opt from argv. Returns 0, 1 after --help/--version, -1 on bad usage. */
static int
parse_args(struct options *opt, int argc, char **argv)
{
	enum { OPT_DB = 256, OPT_SINCE, OPT_UNTIL, OPT_AFTER_ID, OPT_TYPE, OPT_WITH_HASH };
	static const struct option options[] = {
		{"db", required_argument, NULL, OPT_DB},
		{"since", required_argument, NULL, OPT_SINCE},
		{"until", required_argument, NULL, OPT_UNTIL},
		{"after-id", required_argument, NULL, OPT_AFTER_ID},
		{"type", required_argument, NULL, OPT_TYPE},
		{"with-hash", no_argument, NULL, OPT_WITH_HASH},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int64_t now_us = timestamp_now();
	int c;

	opt->db_path = "data/sentinel.db";
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:hV", options, NULL)) != -1) {
		switch (c) {
		case OPT_DB:
			if (!*optarg)
				return usage_error("invalid --db '%s': empty path", optarg);
			opt->db_path = optarg;
			break;
		case OPT_SINCE:
			if (parse_time(optarg, now_us, &opt->range.since_us))
				return usage_error("invalid --since '%s': expected an ISO 8601 "
						   "time or a duration (90s, 10m, 2h, 7d)",
						   optarg);
			opt->range.has_since = 1;
			break;
		case OPT_UNTIL:
			if (parse_time(optarg, now_us, &opt->range.until_us))
				return usage_error("invalid --until '%s': expected an ISO 8601 "
						   "time or a duration (90s, 10m, 2h, 7d)",
						   optarg);
			opt->range.has_until = 1;
			break;
		case OPT_AFTER_ID:
			if (parse_id(optarg, &opt->range.after_id))
				return usage_error("invalid --after-id '%s': expected a "
						   "non-negative integer",
						   optarg);
			break;
		case OPT_TYPE:
			if (parse_types(opt, optarg))
				return -1;
			break;
		case OPT_WITH_HASH:
			opt->with_hash = 1;
			break;
		case 'o':
			if (!*optarg)
				return usage_error("invalid --output '%s': empty path", optarg);
			opt->out_path = strcmp(optarg, "-") ? optarg : NULL;
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
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (opt->with_hash &&
	    (opt->range.has_since || opt->range.has_until || opt->range.type_count))
		return usage_error("--with-hash exports every event after --after-id; it cannot "
				   "be combined with --since, --until or --type%s",
				   "");
	return 0;
}

/* Write one event as a line: the store_row_fn of the export. */
static int
write_row(const struct store_row *row, void *arg)
{
	struct output *o = arg;
	size_t need = row->body_len + WIRE_OVERHEAD + 1, n;

	/* wire_write() needs an object with at least one member. */
	if (row->body_len < 3 || row->body[0] != '{' || row->body[row->body_len - 1] != '}') {
		o->bad_id = row->id;
		return ERR_CORRUPT;
	}
	if (need > o->line_cap) {
		size_t cap = o->line_cap ? o->line_cap : 4096;
		while (cap < need)
			cap *= 2;
		char *line = realloc(o->line, cap);
		if (!line)
			return ERR_NOMEM;
		o->line = line;
		o->line_cap = cap;
	}
	n = wire_write(row->id, row->body, row->body_len, o->line);
	o->line[n++] = '\n';
	if (fwrite(o->line, 1, n, o->f) != n) {
		o->write_errno = errno ? errno : EIO;
		return ERR_IO;
	}
	return 0;
}

/* Make room for need bytes in the line buffer. */
static int
line_room(struct output *o, size_t need)
{
	if (need <= o->line_cap)
		return 0;
	size_t cap = o->line_cap ? o->line_cap : 4096;
	while (cap < need)
		cap *= 2;
	char *line = realloc(o->line, cap);
	if (!line)
		return ERR_NOMEM;
	o->line = line;
	o->line_cap = cap;
	return 0;
}

static int
write_line(struct output *o, size_t n)
{
	if (fwrite(o->line, 1, n, o->f) != n) {
		o->write_errno = errno ? errno : EIO;
		return ERR_IO;
	}
	return 0;
}

/* Write one element of the chain as a line: the store_link_fn of --with-hash. */
static int
write_link(enum store_link_kind kind, int64_t id, const unsigned char *hash,
	   const struct store_row *row, void *arg)
{
	struct output *o = arg;
	char hex[CHAIN_HEX_SIZE];
	size_t n;

	chain_hex(hash, hex);
	if (kind != STORE_LINK_EVENT) {
		if (line_room(o, 128))
			return ERR_NOMEM;
		n = (size_t)snprintf(
			o->line, o->line_cap, "{\"chain\":\"%s\",\"id\":%lld,\"hash\":\"%s\"}\n",
			kind == STORE_LINK_ANCHOR ? "anchor" : "deleted", (long long)id, hex);
		return write_line(o, n);
	}
	if (row->body_len < 3 || row->body[0] != '{' || row->body[row->body_len - 1] != '}') {
		o->bad_id = row->id;
		return ERR_CORRUPT;
	}
	if (line_room(o, row->body_len + 128))
		return ERR_NOMEM;
	/* {"id":N,"hash":"H", then the body's members as stored. */
	n = (size_t)snprintf(o->line, o->line_cap, "{\"id\":%lld,\"hash\":\"%s\",", (long long)id,
			     hex);
	memcpy(o->line + n, row->body + 1, row->body_len - 1);
	n += row->body_len - 1;
	o->line[n++] = '\n';
	return write_line(o, n);
}

/*
 * Open the destination. A regular (or new) FILE is written as FILE.tmp and
 * renamed at the end; anything else (/dev/null, a FIFO) is written as is.
 * Sets *tmp_out to the malloc'd temporary name, or NULL.
 */
static int
open_output(struct output *o, const char *path, char **tmp_out)
{
	struct stat sb;
	char *tmp = NULL;

	*tmp_out = NULL;
	if (!path) {
		o->f = stdout;
		o->name = "standard output";
	} else {
		if (stat(path, &sb) != 0 || S_ISREG(sb.st_mode)) {
			size_t len = strlen(path);
			tmp = malloc(len + sizeof ".tmp");
			if (!tmp) {
				fprintf(stderr, PROG ": out of memory\n");
				return -1;
			}
			memcpy(tmp, path, len);
			memcpy(tmp + len, ".tmp", sizeof ".tmp");
		}
		o->name = path;
		o->f = fopen(tmp ? tmp : path, "w");
		if (!o->f) {
			fprintf(stderr, PROG ": cannot create %s: %s\n", tmp ? tmp : path,
				strerror(errno));
			free(tmp);
			return -1;
		}
	}
	if (setvbuf(o->f, NULL, _IOFBF, OUT_BUFFER_SIZE) != 0) {
		fprintf(stderr, PROG ": cannot set an output buffer\n");
		if (o->f != stdout)
			fclose(o->f);
		if (tmp)
			unlink(tmp);
		free(tmp);
		return -1;
	}
	*tmp_out = tmp;
	return 0;
}

/*
 * Flush and close the destination; with a temporary file, sync it and give
 * it its name. Returns 0, or -1 after saying what failed.
 */
static int
finish_output(struct output *o, const char *path, const char *tmp)
{
	if (fflush(o->f) != 0) {
		fprintf(stderr, PROG ": cannot write %s: %s\n", o->name, strerror(errno));
		return -1;
	}
	if (tmp && fsync(fileno(o->f)) != 0) {
		fprintf(stderr, PROG ": cannot sync %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	FILE *f = o->f;
	o->f = NULL;
	if (fclose(f) != 0) {
		fprintf(stderr, PROG ": cannot write %s: %s\n", o->name, strerror(errno));
		return -1;
	}
	if (tmp && rename(tmp, path) != 0) {
		fprintf(stderr, PROG ": cannot rename %s to %s: %s\n", tmp, path, strerror(errno));
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct options opt = {0};
	struct output out = {0};
	char errmsg[ERRMSG_SIZE], *tmp = NULL;
	store_export *ex = NULL;
	uint64_t count = 0;
	int rc, status = 1, err;

	rc = parse_args(&opt, argc, argv);
	if (rc) {
		status = rc > 0 ? 0 : 2;
		goto out;
	}
	/* A closed pipe is a write error (EPIPE) to report, not a silent death. */
	signal(SIGPIPE, SIG_IGN);

	ex = store_export_open(opt.db_path, &err, errmsg);
	if (!ex) {
		fprintf(stderr, PROG ": cannot open the store %s\n", errmsg);
		goto out;
	}
	if (open_output(&out, opt.out_path, &tmp))
		goto out;
	if (opt.with_hash)
		rc = store_export_chain(ex, opt.range.after_id, write_link, &out, &count);
	else
		rc = store_export_each(ex, &opt.range, write_row, &out, &count);
	if (rc == ERR_IO && out.write_errno)
		fprintf(stderr, PROG ": cannot write %s: %s\n", out.name,
			strerror(out.write_errno));
	else if (rc == ERR_CORRUPT && out.bad_id)
		fprintf(stderr, PROG ": event %lld in the store is not a JSON object\n",
			(long long)out.bad_id);
	else if (rc == ERR_NOMEM)
		fprintf(stderr, PROG ": out of memory\n");
	else if (rc)
		fprintf(stderr, PROG ": cannot read %s: %s\n", opt.db_path,
			store_export_errmsg(ex));
	if (rc || finish_output(&out, opt.out_path, tmp))
		goto out;
	status = 0;
out:
	if (out.f && out.f != stdout)
		fclose(out.f);
	if (status != 0 && tmp)
		unlink(tmp);
	free(tmp);
	free(out.line);
	free(opt.types);
	free(opt.type_list);
	store_export_close(ex);
	return status;
}
