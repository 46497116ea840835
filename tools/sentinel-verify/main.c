/*
 * sentinel-verify: check the hash chain of an export written by
 * `sentinel-export --with-hash`, with nothing but the file: no store, no
 * server. It recomputes every link (chain.h) from the anchor line on and
 * names the first line whose event does not follow from the lines before
 * it; with --head it also checks that the chain passes through a head
 * written down earlier (GET /api/stats, sentinel-logd verify): then
 * nothing up to that head can have changed since.
 *
 * A line is read as the export writes it, by position, not as JSON: the
 * anchor and deleted links are {"chain":"anchor"|"deleted","id":N,
 * "hash":"H"}; an event is {"id":N,"hash":"H", followed by the members of
 * its stored body, which is therefore "{" and the rest of the line. Lines
 * are read one at a time: memory does not grow with the export.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "err.h"
#include "version.h"

#define PROG "sentinel-verify"

/* Exit codes. */
enum { EXIT_INTACT = 0, EXIT_BROKEN = 1, EXIT_USAGE = 2, EXIT_UNREADABLE = 3 };

static const char usage[] =
	"Usage: " PROG " [OPTIONS] [FILE]\n"
	"\n"
	"Check the hash chain of an export written by sentinel-export --with-hash\n"
	"(FILE, or standard input): every event must follow from the lines before\n"
	"it, from the anchor on. Prints the first line and id at which the chain\n"
	"breaks, or the number of events and the last link when it is intact.\n"
	"\n"
	"Options:\n"
	"  --head HASH      a head written down earlier (GET /api/stats): the event\n"
	"                   --head-id must carry this hash (hex), which proves that\n"
	"                   nothing up to it changed since; without --head-id, the\n"
	"                   last link of the export must be this hash\n"
	"  --head-id N      the id of that head\n"
	"  -h, --help       show this help and exit\n"
	"  -V, --version    show the version and exit\n"
	"\n"
	"Exit status: 0 intact (through the head given), 1 broken or another head,\n"
	"2 bad arguments,\n"
	"3 the file cannot be read or is not such an export.\n";

struct options {
	const char *path; /* NULL: standard input */
	int has_head, has_head_id;
	unsigned char head[CHAIN_HASH_SIZE];
	long long head_id;
};

static int
usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, PROG ": ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry '" PROG " --help'.\n");
	return -1;
}

/* Fill opt from argv. Returns 0, 1 after --help/--version, -1 on bad usage. */
static int
parse_args(struct options *opt, int argc, char **argv)
{
	enum { OPT_HEAD = 256, OPT_HEAD_ID };
	static const struct option options[] = {
		{"head", required_argument, NULL, OPT_HEAD},
		{"head-id", required_argument, NULL, OPT_HEAD_ID},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	char *end;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hV", options, NULL)) != -1) {
		switch (c) {
		case OPT_HEAD:
			if (chain_unhex(optarg, strlen(optarg), opt->head))
				return usage_error("invalid --head '%s': expected 64 hex digits",
						   optarg);
			opt->has_head = 1;
			break;
		case OPT_HEAD_ID:
			errno = 0;
			opt->head_id = strtoll(optarg, &end, 10);
			if (errno || *end || end == optarg || opt->head_id < 0)
				return usage_error("invalid --head-id '%s': expected an id",
						   optarg);
			opt->has_head_id = 1;
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
	if (argc - optind > 1)
		return usage_error("unexpected argument '%s'", argv[optind + 1]);
	if (optind < argc && strcmp(argv[optind], "-"))
		opt->path = argv[optind];
	return 0;
}

/* A decimal id at *p, which moves past it. Returns 0 or ERR_INVAL. */
static int
take_id(const char **p, const char *end, long long *out)
{
	const char *s = *p;
	long long v = 0;

	if (s == end || *s < '0' || *s > '9')
		return ERR_INVAL;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		if (v > (INT64_MAX - 9) / 10)
			return ERR_INVAL;
		v = v * 10 + (*s - '0');
	}
	*p = s;
	*out = v;
	return 0;
}

/* The literal text at *p, which moves past it. */
static int
take(const char **p, const char *end, const char *text)
{
	size_t n = strlen(text);

	if ((size_t)(end - *p) < n || memcmp(*p, text, n))
		return ERR_INVAL;
	*p += n;
	return 0;
}

/* "hash":"<64 hex>" at *p. */
static int
take_hash(const char **p, const char *end, unsigned char *out)
{
	if (take(p, end, "\"hash\":\"") || end - *p < 2 * CHAIN_HASH_SIZE + 1 ||
	    chain_unhex(*p, 2 * CHAIN_HASH_SIZE, out) || (*p)[2 * CHAIN_HASH_SIZE] != '"')
		return ERR_INVAL;
	*p += 2 * CHAIN_HASH_SIZE + 1;
	return 0;
}

/* What one line of the export is. */
struct line {
	enum { LINE_ANCHOR, LINE_DELETED, LINE_EVENT } kind;
	long long id;
	unsigned char hash[CHAIN_HASH_SIZE];
	const char *body; /* LINE_EVENT: the stored body, within the line */
	size_t body_len;
};

/*
 * Read text[0..len) (no newline) as a line of the export. An event's body
 * is the line from the comma after its hash, with that comma made a '{'
 * in place. Returns 0 or ERR_INVAL.
 */
static int
parse_line(char *text, size_t len, struct line *out)
{
	const char *p = text, *end = text + len;

	if (!take(&p, end, "{\"chain\":\"")) {
		if (!take(&p, end, "anchor\""))
			out->kind = LINE_ANCHOR;
		else if (!take(&p, end, "deleted\""))
			out->kind = LINE_DELETED;
		else
			return ERR_INVAL;
		if (take(&p, end, ",\"id\":") || take_id(&p, end, &out->id) || take(&p, end, ",") ||
		    take_hash(&p, end, out->hash) || take(&p, end, "}") || p != end)
			return ERR_INVAL;
		return 0;
	}
	out->kind = LINE_EVENT;
	if (take(&p, end, "{\"id\":") || take_id(&p, end, &out->id) || take(&p, end, ",") ||
	    take_hash(&p, end, out->hash) || *p != ',' || end[-1] != '}')
		return ERR_INVAL;
	text[p - text] = '{';
	out->body = p;
	out->body_len = (size_t)(end - p);
	return 0;
}

int
main(int argc, char **argv)
{
	struct options opt = {0};
	struct chain_check k;
	FILE *in = stdin;
	chain *c = NULL;
	char *text = NULL;
	size_t cap = 0;
	long long lineno = 0, first = 0, last = 0;
	int status = EXIT_UNREADABLE, rc, head_seen = 0;
	unsigned char at_head[CHAIN_HASH_SIZE];

	rc = parse_args(&opt, argc, argv);
	if (rc)
		return rc > 0 ? 0 : EXIT_USAGE;
	const char *name = opt.path ? opt.path : "standard input";
	if (opt.path && !(in = fopen(opt.path, "r"))) {
		fprintf(stderr, PROG ": cannot open %s: %s\n", opt.path, strerror(errno));
		return EXIT_UNREADABLE;
	}
	if (!(c = chain_new())) {
		fprintf(stderr, PROG ": cannot get a SHA-256 context\n");
		goto out;
	}
	for (;;) {
		struct line l;
		errno = 0;
		ssize_t n = getline(&text, &cap, in);
		if (n < 0) {
			if (ferror(in)) {
				fprintf(stderr, PROG ": cannot read %s: %s\n", name,
					strerror(errno));
				goto out;
			}
			break;
		}
		lineno++;
		if (n > 0 && text[n - 1] == '\n')
			text[--n] = '\0';
		if (parse_line(text, (size_t)n, &l)) {
			fprintf(stderr,
				PROG ": %s:%lld: not a line of sentinel-export --with-hash "
				     "(an anchor, an event with its hash right after its id, or a "
				     "deleted link)\n",
				name, lineno);
			goto out;
		}
		if ((lineno == 1) != (l.kind == LINE_ANCHOR)) {
			fprintf(stderr, PROG ": %s:%lld: %s\n", name, lineno,
				lineno == 1 ? "the first line must be the anchor"
					    : "only the first line may be an anchor");
			goto out;
		}
		if (l.kind == LINE_ANCHOR) {
			chain_check_start(&k, l.id, l.hash);
			continue;
		}
		if (l.kind == LINE_DELETED)
			rc = chain_check_deleted(&k, l.id, l.hash);
		else
			rc = chain_check_event(&k, c, l.id, l.body, l.body_len, l.hash);
		if (rc < 0) {
			fprintf(stderr, PROG ": SHA-256 failed\n");
			goto out;
		}
		if (rc) {
			printf("%s: the hash chain is broken at id %lld (line %lld; the last good "
			       "link is id %lld)\n  %s\n",
			       name, (long long)k.bad_id, lineno, (long long)k.after_id, k.reason);
			status = EXIT_BROKEN;
			goto out;
		}
		if (l.kind == LINE_EVENT) {
			if (!first)
				first = l.id;
			last = l.id;
		}
		if (opt.has_head_id && l.id == opt.head_id) {
			memcpy(at_head, l.hash, CHAIN_HASH_SIZE);
			head_seen = 1;
		}
	}
	if (!lineno) {
		fprintf(stderr, PROG ": %s is empty: no anchor\n", name);
		goto out;
	}
	char hex[CHAIN_HEX_SIZE];
	chain_hex(k.prev, hex);
	printf("%s: the hash chain is intact: %lld events", name, (long long)k.events);
	if (k.events)
		printf(" (ids %lld to %lld)", first, last);
	if (k.deleted)
		printf(", %lld links of events deleted by retention", (long long)k.deleted);
	printf(", from the anchor id %lld\n  last link: id %lld hash %s\n", (long long)k.anchor_id,
	       (long long)k.prev_id, hex);
	status = EXIT_INTACT;
	if (opt.has_head_id && !head_seen) {
		printf("  but it does not hold id %lld, the head given\n", opt.head_id);
		status = EXIT_BROKEN;
	} else if (opt.has_head &&
		   memcmp(opt.head, opt.has_head_id ? at_head : k.prev, CHAIN_HASH_SIZE)) {
		chain_hex(opt.has_head_id ? at_head : k.prev, hex);
		printf("  but the hash at id %lld is %s, not the head given: the chain was "
		       "changed or rebuilt up to there\n",
		       opt.has_head_id ? opt.head_id : (long long)k.prev_id, hex);
		status = EXIT_BROKEN;
	} else if (opt.has_head) {
		printf("  and it passes through the head given (id %lld)\n",
		       opt.has_head_id ? opt.head_id : (long long)k.prev_id);
	}
out:
	free(text);
	chain_free(c);
	if (in != stdin)
		fclose(in);
	return status;
}
