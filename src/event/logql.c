/*
 * LogQL (see logql.h): a recursive-descent parser straight over the text,
 * and the evaluation of a plan on one event. Regular expressions are
 * compiled once, when the query is parsed.
 */
#define _GNU_SOURCE /* memmem */
#include "logql.h"

#include <jansson.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

enum match_op { OP_EQ, OP_NE, OP_RE, OP_NRE };

struct matcher {
	char *name, *value;
	enum match_op op;
	regex_t re;
	int compiled;
};

enum cmp_op { CMP_EQ, CMP_NE, CMP_RE, CMP_NRE, CMP_GT, CMP_GE, CMP_LT, CMP_LE };

struct cond {
	char *name, *str;
	enum cmp_op op;
	int numeric; /* compare as numbers: the value was a number */
	double num;
	regex_t re;
	int compiled;
};

enum stage_kind { STAGE_LINE, STAGE_JSON, STAGE_LOGFMT, STAGE_FILTER, STAGE_DROP };

struct stage {
	enum stage_kind kind;
	enum match_op op; /* STAGE_LINE: |= != |~ !~ */
	char *text;
	regex_t re;
	int compiled;
	struct cond *conds; /* STAGE_FILTER: all must hold */
	size_t nconds;
	char **names; /* STAGE_DROP */
	size_t nnames;
};

struct logql {
	enum logql_kind kind;
	struct matcher *matchers;
	size_t nmatchers;
	struct stage *stages;
	size_t nstages;
	enum logql_range_fn fn;
	int64_t range_us;
	int sum, without; /* sum [by|without] (group) */
	char **group;
	size_t ngroup;
	double vector;
	const char *type; /* the type="x" matcher's value, or NULL */
};

/* The parser's position and its first error. */
struct parser {
	const char *text, *p;
	char *errmsg;
	int failed;
	logql *q;
};

static int perr(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
perr(struct parser *ps, const char *fmt, ...)
{
	char what[ERRMSG_SIZE];
	va_list ap;

	if (ps->failed)
		return ERR_INVAL;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	err_set(ps->errmsg, ERR_INVAL, "parse error at line 1, col %d: %s",
		(int)(ps->p - ps->text) + 1, what);
	ps->failed = 1;
	return ERR_INVAL;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int
is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int
is_ident(char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9');
}

static void
skip(struct parser *ps)
{
	while (is_space(*ps->p))
		ps->p++;
}

/* Take s if it comes next. */
static int
accept(struct parser *ps, const char *s)
{
	size_t n = strlen(s);

	skip(ps);
	if (strncmp(ps->p, s, n))
		return 0;
	ps->p += n;
	return 1;
}

static int
expect(struct parser *ps, const char *s)
{
	if (accept(ps, s))
		return 0;
	return perr(ps, "expected '%s'", s);
}

/* Take the keyword kw if it comes next as a whole word. */
static int
accept_word(struct parser *ps, const char *kw)
{
	size_t n = strlen(kw);

	skip(ps);
	if (strncmp(ps->p, kw, n) || is_ident(ps->p[n]))
		return 0;
	ps->p += n;
	return 1;
}

/* An identifier, malloc'd, or NULL (error set). */
static char *
ident(struct parser *ps)
{
	const char *s;

	skip(ps);
	if (!is_ident_start(*ps->p)) {
		perr(ps, "expected a label name");
		return NULL;
	}
	for (s = ps->p; is_ident(*ps->p); ps->p++)
		;
	char *out = strndup(s, (size_t)(ps->p - s));
	if (!out)
		perr(ps, "out of memory");
	return out;
}

/* A string literal ("..." with escapes, or `...`), malloc'd, or NULL. */
static char *
string_lit(struct parser *ps)
{
	struct buf b = {0};
	char quote;

	skip(ps);
	quote = *ps->p;
	if (quote != '"' && quote != '`') {
		perr(ps, "expected a string in double quotes or backticks");
		return NULL;
	}
	for (ps->p++; *ps->p && *ps->p != quote; ps->p++) {
		char c = *ps->p;
		if (quote == '"' && c == '\\' && ps->p[1]) {
			c = *++ps->p;
			c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
			if (!strchr("\"\\ntr", *ps->p) && buf_append(&b, "\\", 1))
				goto nomem;
		}
		if (buf_append(&b, &c, 1))
			goto nomem;
	}
	if (*ps->p != quote) {
		buf_free(&b);
		perr(ps, "unterminated string");
		return NULL;
	}
	ps->p++;
	if (!b.data && buf_append(&b, "", 0))
		goto nomem;
	return b.data;
nomem:
	buf_free(&b);
	perr(ps, "out of memory");
	return NULL;
}

/*
 * Compile a regular expression written for RE2 as a POSIX one: "(?i)"
 * becomes a flag, \d \w \s and their negations become bracket expressions
 * (outside brackets), and anchored wraps it in ^(...)$.
 */
static int
compile_re(struct parser *ps, regex_t *re, const char *src, int anchored)
{
	struct buf b = {0};
	int flags = REG_EXTENDED | REG_NOSUB, in_bracket = 0, rc;

	if (!strncmp(src, "(?i)", 4)) {
		flags |= REG_ICASE;
		src += 4;
	}
	rc = anchored ? buf_append(&b, "^(", 2) : buf_append(&b, "", 0);
	for (const char *s = src; !rc && *s; s++) {
		const char *rep = NULL;
		if (*s == '\\' && s[1] && !in_bracket) {
			switch (s[1]) {
			case 'd':
				rep = "[0-9]";
				break;
			case 'D':
				rep = "[^0-9]";
				break;
			case 'w':
				rep = "[A-Za-z0-9_]";
				break;
			case 'W':
				rep = "[^A-Za-z0-9_]";
				break;
			case 's':
				rep = "[[:space:]]";
				break;
			case 'S':
				rep = "[^[:space:]]";
				break;
			default:
				break;
			}
			if (rep) {
				rc = buf_append(&b, rep, strlen(rep));
				s++;
				continue;
			}
			rc = buf_append(&b, s, 2);
			s++;
			continue;
		}
		if (*s == '[')
			in_bracket = 1;
		else if (*s == ']')
			in_bracket = 0;
		rc = buf_append(&b, s, 1);
	}
	if (!rc && anchored)
		rc = buf_append(&b, ")$", 2);
	if (rc) {
		buf_free(&b);
		return perr(ps, "out of memory");
	}
	rc = regcomp(re, b.data, flags);
	buf_free(&b);
	if (rc) {
		char why[128];
		regerror(rc, re, why, sizeof why);
		return perr(ps, "invalid regular expression '%s': %s", src, why);
	}
	return 0;
}

/* name op "value" inside a selector. */
static int
parse_matcher(struct parser *ps)
{
	logql *q = ps->q;
	struct matcher m = {0};

	if (!(m.name = ident(ps)))
		return ERR_INVAL;
	skip(ps);
	if (accept(ps, "=~"))
		m.op = OP_RE;
	else if (accept(ps, "!~"))
		m.op = OP_NRE;
	else if (accept(ps, "!="))
		m.op = OP_NE;
	else if (accept(ps, "="))
		m.op = OP_EQ;
	else {
		free(m.name);
		return perr(ps, "expected =, !=, =~ or !~ after a label name");
	}
	if (!(m.value = string_lit(ps)) ||
	    ((m.op == OP_RE || m.op == OP_NRE) && compile_re(ps, &m.re, m.value, 1))) {
		free(m.name);
		free(m.value);
		return ERR_INVAL;
	}
	m.compiled = m.op == OP_RE || m.op == OP_NRE;
	struct matcher *more = realloc(q->matchers, (q->nmatchers + 1) * sizeof *more);
	if (!more) {
		if (m.compiled)
			regfree(&m.re);
		free(m.name);
		free(m.value);
		return perr(ps, "out of memory");
	}
	q->matchers = more;
	q->matchers[q->nmatchers++] = m;
	return 0;
}

static int
parse_selector(struct parser *ps)
{
	logql *q = ps->q;
	int useful = 0;

	if (expect(ps, "{"))
		return ERR_INVAL;
	if (!accept(ps, "}")) {
		do {
			if (parse_matcher(ps))
				return ERR_INVAL;
		} while (accept(ps, ","));
		if (expect(ps, "}"))
			return ERR_INVAL;
	}
	/* As in Loki: at least one matcher that an empty value does not match. */
	for (size_t i = 0; i < q->nmatchers; i++) {
		struct matcher *m = &q->matchers[i];
		if ((m->op == OP_EQ && m->value[0]) ||
		    (m->op == OP_RE && regexec(&m->re, "", 0, NULL, 0)))
			useful = 1;
		if (m->op == OP_EQ && !strcmp(m->name, "type"))
			q->type = m->value;
	}
	if (!useful)
		return perr(ps,
			    "queries require at least one regexp or equality matcher that "
			    "does not have an empty-compatible value. For instance, app=~\".*\" "
			    "does not meet this requirement, but app=~\".+\" will");
	return 0;
}

static struct stage *
new_stage(struct parser *ps, enum stage_kind kind)
{
	logql *q = ps->q;
	struct stage *more = realloc(q->stages, (q->nstages + 1) * sizeof *more);

	if (!more) {
		perr(ps, "out of memory");
		return NULL;
	}
	q->stages = more;
	memset(&more[q->nstages], 0, sizeof *more);
	more[q->nstages].kind = kind;
	return &more[q->nstages++];
}

/* A number literal (for label filters). */
static int
number_lit(struct parser *ps, double *out)
{
	char *end;

	skip(ps);
	if (!((*ps->p >= '0' && *ps->p <= '9') || *ps->p == '-' || *ps->p == '.'))
		return 0;
	*out = strtod(ps->p, &end);
	if (end == ps->p)
		return 0;
	ps->p = end;
	return 1;
}

/* name op value, one condition of a label filter. */
static int
parse_cond(struct parser *ps, struct stage *st)
{
	struct cond c = {0};
	static const struct {
		const char *text;
		enum cmp_op op;
	} ops[] = {{"==", CMP_EQ}, {"!=", CMP_NE}, {"=~", CMP_RE}, {"!~", CMP_NRE}, {">=", CMP_GE},
		   {"<=", CMP_LE}, {">", CMP_GT},  {"<", CMP_LT},  {"=", CMP_EQ}};
	size_t i, n = sizeof ops / sizeof ops[0];

	if (!(c.name = ident(ps)))
		return ERR_INVAL;
	for (i = 0; i < n && !accept(ps, ops[i].text); i++)
		;
	if (i == n) {
		perr(ps, "expected a comparison (=, !=, =~, !~, >, >=, <, <=) after '%s'", c.name);
		free(c.name);
		return ERR_INVAL;
	}
	c.op = ops[i].op;
	skip(ps);
	if (*ps->p == '"' || *ps->p == '`') {
		if (!(c.str = string_lit(ps)))
			goto fail;
		if (c.op >= CMP_GT) {
			perr(ps, "'>', '>=', '<' and '<=' compare numbers");
			goto fail;
		}
		if ((c.op == CMP_RE || c.op == CMP_NRE) && compile_re(ps, &c.re, c.str, 1))
			goto fail;
		c.compiled = c.op == CMP_RE || c.op == CMP_NRE;
	} else if (number_lit(ps, &c.num)) {
		if (c.op == CMP_RE || c.op == CMP_NRE) {
			perr(ps, "=~ and !~ need a string");
			goto fail;
		}
		c.numeric = 1;
	} else {
		perr(ps, "expected a string or a number to compare '%s' with", c.name);
		goto fail;
	}
	struct cond *more = realloc(st->conds, (st->nconds + 1) * sizeof *more);
	if (!more) {
		perr(ps, "out of memory");
		goto fail;
	}
	st->conds = more;
	st->conds[st->nconds++] = c;
	return 0;
fail:
	if (c.compiled)
		regfree(&c.re);
	free(c.name);
	free(c.str);
	return ERR_INVAL;
}

/* The stages after a selector, up to what is not a stage. */
static int
parse_pipeline(struct parser *ps)
{
	for (;;) {
		struct stage *st;
		enum match_op op;

		skip(ps);
		if (accept(ps, "|="))
			op = OP_EQ;
		else if (accept(ps, "|~"))
			op = OP_RE;
		else if (accept(ps, "!="))
			op = OP_NE;
		else if (accept(ps, "!~"))
			op = OP_NRE;
		else if (accept(ps, "|")) {
			if (accept_word(ps, "json")) {
				skip(ps);
				if (is_ident_start(*ps->p) && !accept_word(ps, "and"))
					return perr(ps,
						    "'| json' with parameters is not supported");
				if (!new_stage(ps, STAGE_JSON))
					return ERR_INVAL;
			} else if (accept_word(ps, "logfmt")) {
				if (!new_stage(ps, STAGE_LOGFMT))
					return ERR_INVAL;
			} else if (accept_word(ps, "drop")) {
				if (!(st = new_stage(ps, STAGE_DROP)))
					return ERR_INVAL;
				do {
					char *name = ident(ps), **more;
					if (!name)
						return ERR_INVAL;
					more = realloc(st->names, (st->nnames + 1) * sizeof *more);
					if (!more) {
						free(name);
						return perr(ps, "out of memory");
					}
					st->names = more;
					st->names[st->nnames++] = name;
				} while (accept(ps, ","));
			} else {
				static const char *const refused[] = {
					"line_format", "label_format", "pattern",    "regexp",
					"unpack",      "unwrap",       "decolorize", "keep",
					"distinct",    "label_replace"};
				for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
					if (accept_word(ps, refused[i]))
						return perr(ps, "'| %s' is not supported",
							    refused[i]);
				if (!(st = new_stage(ps, STAGE_FILTER)))
					return ERR_INVAL;
				do {
					if (parse_cond(ps, st))
						return ERR_INVAL;
				} while (accept(ps, ",") || accept_word(ps, "and"));
				if (accept_word(ps, "or"))
					return perr(ps, "'or' in label filters is not supported");
			}
			continue;
		} else {
			return 0;
		}
		/* A line filter. */
		if (!(st = new_stage(ps, STAGE_LINE)))
			return ERR_INVAL;
		st->op = op;
		if (!(st->text = string_lit(ps)))
			return ERR_INVAL;
		if ((op == OP_RE || op == OP_NRE) && compile_re(ps, &st->re, st->text, 0))
			return ERR_INVAL;
		st->compiled = op == OP_RE || op == OP_NRE;
		if (accept_word(ps, "or"))
			return perr(ps, "'or' in line filters is not supported");
	}
}

int
logql_duration(const char *text, size_t len, int64_t *us_out)
{
	static const struct {
		const char *unit;
		int64_t us;
	} units[] = {{"ms", 1000},           {"s", 1000000},       {"m", 60000000},
		     {"h", 3600000000LL},    {"d", 86400000000LL}, {"w", 604800000000LL},
		     {"y", 31536000000000LL}};
	const char *p = text, *end = text + len;
	int64_t total = 0;

	if (p == end)
		return ERR_INVAL;
	while (p < end) {
		int64_t n = 0;
		const char *d = p;
		while (p < end && *p >= '0' && *p <= '9') {
			if (n > INT64_MAX / 10 - 10)
				return ERR_INVAL;
			n = n * 10 + (*p++ - '0');
		}
		if (p == d)
			return ERR_INVAL;
		size_t i, nu = sizeof units / sizeof units[0];
		for (i = 0; i < nu; i++) {
			size_t ul = strlen(units[i].unit);
			if ((size_t)(end - p) >= ul && !strncmp(p, units[i].unit, ul) &&
			    !(ul == 1 && p + 1 < end && p[0] == 'm' && p[1] == 's')) {
				p += ul;
				break;
			}
		}
		if (i == nu || n > INT64_MAX / units[i].us || total > INT64_MAX - n * units[i].us)
			return ERR_INVAL;
		total += n * units[i].us;
	}
	if (!total)
		return ERR_INVAL;
	*us_out = total;
	return 0;
}

/* fn(LOG [DUR]) */
static int
parse_range(struct parser *ps)
{
	static const struct {
		const char *name;
		enum logql_range_fn fn;
	} fns[] = {{"count_over_time", LOGQL_COUNT_OVER_TIME},
		   {"bytes_over_time", LOGQL_BYTES_OVER_TIME},
		   {"bytes_rate", LOGQL_BYTES_RATE},
		   {"rate", LOGQL_RATE}};
	logql *q = ps->q;
	size_t i, n = sizeof fns / sizeof fns[0];

	for (i = 0; i < n && !accept_word(ps, fns[i].name); i++)
		;
	if (i == n) {
		skip(ps);
		return perr(ps, "expected count_over_time, rate, bytes_over_time or bytes_rate "
				"(other functions are not supported)");
	}
	q->fn = fns[i].fn;
	if (expect(ps, "(") || parse_selector(ps) || parse_pipeline(ps) || expect(ps, "["))
		return ERR_INVAL;
	const char *d = ps->p;
	while (*ps->p && *ps->p != ']')
		ps->p++;
	if (logql_duration(d, (size_t)(ps->p - d), &q->range_us))
		return perr(ps, "invalid range duration '%.*s'", (int)(ps->p - d), d);
	if (expect(ps, "]") || expect(ps, ")"))
		return ERR_INVAL;
	q->kind = LOGQL_METRIC;
	return 0;
}

/* by (a, b) or without (a, b) after sum. */
static int
parse_grouping(struct parser *ps)
{
	logql *q = ps->q;
	int by = accept_word(ps, "by"), without = !by && accept_word(ps, "without");

	if (!by && !without)
		return 0;
	if (q->group || q->without)
		return perr(ps, "grouping given twice");
	q->without = without;
	if (expect(ps, "("))
		return ERR_INVAL;
	if (accept(ps, ")"))
		return 0;
	do {
		char *name = ident(ps), **more;
		if (!name)
			return ERR_INVAL;
		more = realloc(q->group, (q->ngroup + 1) * sizeof *more);
		if (!more) {
			free(name);
			return perr(ps, "out of memory");
		}
		q->group = more;
		q->group[q->ngroup++] = name;
	} while (accept(ps, ","));
	return expect(ps, ")");
}

/* vector(N) [+ vector(N)]... */
static int
parse_vector(struct parser *ps)
{
	logql *q = ps->q;

	q->kind = LOGQL_VECTOR;
	do {
		double v;
		if (!accept_word(ps, "vector") || expect(ps, "(") || !number_lit(ps, &v))
			return perr(ps, "expected vector(NUMBER)");
		if (expect(ps, ")"))
			return ERR_INVAL;
		q->vector += v;
	} while (accept(ps, "+"));
	return 0;
}

static int
parse_query(struct parser *ps)
{
	logql *q = ps->q;
	static const char *const refused[] = {"count",
					      "avg",
					      "min",
					      "max",
					      "stddev",
					      "stdvar",
					      "topk",
					      "bottomk",
					      "sort",
					      "sort_desc",
					      "absent_over_time",
					      "sum_over_time",
					      "avg_over_time",
					      "max_over_time",
					      "min_over_time",
					      "first_over_time",
					      "last_over_time",
					      "quantile_over_time",
					      "stddev_over_time",
					      "stdvar_over_time",
					      "label_replace",
					      "rate_counter"};

	skip(ps);
	if (*ps->p == '{') {
		q->kind = LOGQL_LOG;
		if (parse_selector(ps) || parse_pipeline(ps))
			return ERR_INVAL;
	} else if (!strncmp(ps->p, "vector", 6)) {
		if (parse_vector(ps))
			return ERR_INVAL;
	} else if (accept_word(ps, "sum")) {
		q->sum = 1;
		if (parse_grouping(ps) || expect(ps, "(") || parse_range(ps) || expect(ps, ")") ||
		    parse_grouping(ps))
			return ERR_INVAL;
	} else {
		for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
			if (accept_word(ps, refused[i]))
				return perr(ps,
					    "'%s' is not supported; use sum, count_over_time, "
					    "rate, bytes_over_time or bytes_rate",
					    refused[i]);
		if (parse_range(ps))
			return ERR_INVAL;
	}
	skip(ps);
	if (*ps->p)
		return perr(ps, "unexpected '%.20s'", ps->p);
	return 0;
}

logql *
logql_parse(const char *text, char *errmsg)
{
	struct parser ps = {.text = text, .p = text, .errmsg = errmsg};

	if (strlen(text) > LOGQL_QUERY_MAX) {
		err_set(errmsg, ERR_INVAL, "the query is longer than %d bytes", LOGQL_QUERY_MAX);
		return NULL;
	}
	if (!(ps.q = calloc(1, sizeof *ps.q))) {
		err_set(errmsg, ERR_NOMEM, "out of memory");
		return NULL;
	}
	if (parse_query(&ps)) {
		logql_free(ps.q);
		return NULL;
	}
	return ps.q;
}

void
logql_free(logql *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->nmatchers; i++) {
		if (q->matchers[i].compiled)
			regfree(&q->matchers[i].re);
		free(q->matchers[i].name);
		free(q->matchers[i].value);
	}
	for (size_t i = 0; i < q->nstages; i++) {
		struct stage *st = &q->stages[i];
		if (st->compiled)
			regfree(&st->re);
		free(st->text);
		for (size_t j = 0; j < st->nconds; j++) {
			if (st->conds[j].compiled)
				regfree(&st->conds[j].re);
			free(st->conds[j].name);
			free(st->conds[j].str);
		}
		free(st->conds);
		for (size_t j = 0; j < st->nnames; j++)
			free(st->names[j]);
		free(st->names);
	}
	for (size_t i = 0; i < q->ngroup; i++)
		free(q->group[i]);
	free(q->group);
	free(q->matchers);
	free(q->stages);
	free(q);
}

enum logql_kind
logql_kind(const logql *q)
{
	return q->kind;
}

enum logql_range_fn
logql_range_fn(const logql *q)
{
	return q->fn;
}

int64_t
logql_range_us(const logql *q)
{
	return q->range_us;
}

double
logql_vector_value(const logql *q)
{
	return q->vector;
}

const char *
logql_type(const logql *q)
{
	return q ? q->type : NULL;
}

/* ------------------------------------------------------------ label sets */

int
logql_labels_set(struct logql_labels *ls, const char *name, const char *value, size_t value_len)
{
	char *v = malloc(value_len + 1);

	if (!v)
		return ERR_NOMEM;
	memcpy(v, value, value_len);
	v[value_len] = '\0';
	for (size_t i = 0; i < ls->n; i++) {
		if (!strcmp(ls->v[i].name, name)) {
			free(ls->v[i].value);
			ls->v[i].value = v;
			return 0;
		}
	}
	if (ls->n == ls->cap) {
		size_t cap = ls->cap ? ls->cap * 2 : 8;
		struct logql_label *more = realloc(ls->v, cap * sizeof *more);
		if (!more) {
			free(v);
			return ERR_NOMEM;
		}
		ls->v = more;
		ls->cap = cap;
	}
	if (!(ls->v[ls->n].name = strdup(name))) {
		free(v);
		return ERR_NOMEM;
	}
	ls->v[ls->n++].value = v;
	return 0;
}

const char *
logql_labels_get(const struct logql_labels *ls, const char *name)
{
	for (size_t i = 0; i < ls->n; i++)
		if (!strcmp(ls->v[i].name, name))
			return ls->v[i].value;
	return NULL;
}

/* Remove one label (if present). */
static void
labels_del(struct logql_labels *ls, const char *name)
{
	for (size_t i = 0; i < ls->n; i++) {
		if (!strcmp(ls->v[i].name, name)) {
			free(ls->v[i].name);
			free(ls->v[i].value);
			ls->v[i] = ls->v[--ls->n];
			return;
		}
	}
}

void
logql_labels_clear(struct logql_labels *ls)
{
	for (size_t i = 0; i < ls->n; i++) {
		free(ls->v[i].name);
		free(ls->v[i].value);
	}
	ls->n = 0;
}

void
logql_labels_free(struct logql_labels *ls)
{
	logql_labels_clear(ls);
	free(ls->v);
	ls->v = NULL;
	ls->cap = 0;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const struct logql_label *)a)->name, ((const struct logql_label *)b)->name);
}

int
logql_json_string(struct buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;
	int rc = buf_append(out, "\"", 1);

	for (size_t i = 0; !rc && i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		char esc[7] = {'\\', (char)c, 0};
		if (c < 0x20) {
			const char *named = c == '\n'   ? "n"
					    : c == '\t' ? "t"
					    : c == '\r' ? "r"
							: NULL;
			if (named) {
				esc[1] = named[0];
			} else {
				esc[1] = 'u', esc[2] = '0', esc[3] = '0', esc[4] = hex[c >> 4],
				esc[5] = hex[c & 15];
			}
		}
		rc = buf_append(out, s + run, i - run) || buf_append(out, esc, strlen(esc));
		run = i + 1;
	}
	return rc || buf_append(out, s + run, len - run) || buf_append(out, "\"", 1) ? ERR_NOMEM
										     : 0;
}

int
logql_labels_json(struct logql_labels *ls, struct buf *out)
{
	int rc = buf_append(out, "{", 1);

	if (ls->n > 1)
		qsort(ls->v, ls->n, sizeof *ls->v, by_name);
	for (size_t i = 0; !rc && i < ls->n; i++) {
		rc = (i && buf_append(out, ",", 1)) ||
		     logql_json_string(out, ls->v[i].name, strlen(ls->v[i].name)) ||
		     buf_append(out, ":", 1) ||
		     logql_json_string(out, ls->v[i].value, strlen(ls->v[i].value));
	}
	return rc || buf_append(out, "}", 1) ? ERR_NOMEM : 0;
}

/* ------------------------------------------------------------ evaluation */

static int
label_name_ok(const char *s)
{
	if (!is_ident_start(*s))
		return 0;
	for (s++; *s; s++)
		if (!is_ident(*s))
			return 0;
	return 1;
}

/* A scalar as a label value: strings as they are, numbers as written. */
static int
set_scalar(struct logql_labels *ls, const char *name, json_t *v)
{
	char num[64];

	if (json_is_string(v))
		return logql_labels_set(ls, name, json_string_value(v), json_string_length(v));
	if (json_is_number(v)) {
		snprintf(num, sizeof num, "%.15g", json_number_value(v));
		return logql_labels_set(ls, name, num, strlen(num));
	}
	if (json_is_boolean(v))
		return logql_labels_set(ls, name, json_is_true(v) ? "true" : "false",
					json_is_true(v) ? 4 : 5);
	return 0; /* null, objects and arrays are no labels */
}

/* The stream labels of an event; its message copied into *line. */
static int
event_labels(json_t *root, struct logql_labels *ls, char **line, size_t *line_len)
{
	json_t *type = json_object_get(root, "type"), *msg = json_object_get(root, "message");
	json_t *data = json_object_get(root, "data"), *v;
	const char *key;
	int rc = 0;

	if (json_is_string(type))
		rc = logql_labels_set(ls, "type", json_string_value(type),
				      json_string_length(type));
	json_object_foreach(data, key, v)
	{
		if (!rc && strcmp(key, "type") && label_name_ok(key))
			rc = set_scalar(ls, key, v);
	}
	if (rc || !line)
		return rc;
	size_t n = json_is_string(msg) ? json_string_length(msg) : 0;
	if (!(*line = malloc(n + 1)))
		return ERR_NOMEM;
	if (n)
		memcpy(*line, json_string_value(msg), n);
	(*line)[n] = '\0';
	*line_len = n;
	return 0;
}

static int
matches(const struct matcher *m, const struct logql_labels *ls)
{
	const char *v = logql_labels_get(ls, m->name);

	if (!v)
		v = "";
	switch (m->op) {
	case OP_EQ:
		return !strcmp(v, m->value);
	case OP_NE:
		return strcmp(v, m->value) != 0;
	case OP_RE:
		return !regexec(&m->re, v, 0, NULL, 0);
	default:
		return regexec(&m->re, v, 0, NULL, 0) != 0;
	}
}

static int
selector_matches(const logql *q, const struct logql_labels *ls)
{
	for (size_t i = 0; q && i < q->nmatchers; i++)
		if (!matches(&q->matchers[i], ls))
			return 0;
	return 1;
}

/* Does a line filter keep the line? Lines may hold NULs: search bytes. */
static int
line_keeps(const struct stage *st, const char *line, size_t len)
{
	int found;

	if (st->op == OP_EQ || st->op == OP_NE)
		found = !st->text[0] || memmem(line, len, st->text, strlen(st->text)) != NULL;
	else
		found = !regexec(&st->re, line, 0, NULL, 0);
	return (st->op == OP_EQ || st->op == OP_RE) ? found : !found;
}

/* Add an extracted label, renamed when it would replace a stream label. */
static int
set_extracted(struct logql_labels *ls, const struct logql_labels *stream, const char *name,
	      json_t *v)
{
	char renamed[300];

	if (logql_labels_get(stream, name)) {
		snprintf(renamed, sizeof renamed, "%s_extracted", name);
		name = renamed;
	}
	return set_scalar(ls, name, v);
}

/* | json: the members of obj, nested names joined with '_'. */
static int
extract_json(struct logql_labels *ls, const struct logql_labels *stream, json_t *obj,
	     const char *prefix)
{
	const char *key;
	json_t *v;
	int rc = 0;

	json_object_foreach(obj, key, v)
	{
		char name[256];
		size_t n = (size_t)snprintf(name, sizeof name, "%s%s%s", prefix,
					    prefix[0] ? "_" : "", key);
		if (n >= sizeof name)
			continue;
		for (char *c = name; *c; c++)
			if (!is_ident(*c))
				*c = '_';
		if (!is_ident_start(name[0]))
			continue;
		if (json_is_object(v))
			rc = extract_json(ls, stream, v, name);
		else if (!json_is_array(v))
			rc = set_extracted(ls, stream, name, v);
		if (rc)
			return rc;
	}
	return 0;
}

/* | logfmt: key=value and key="quoted value" pairs of the line. */
static int
extract_logfmt(struct logql_labels *ls, const struct logql_labels *stream, const char *line)
{
	const char *p = line;
	int rc = 0;

	while (!rc && *p) {
		while (*p == ' ' || *p == '\t')
			p++;
		const char *k = p;
		while (*p && *p != '=' && *p != ' ' && *p != '\t')
			p++;
		char name[256];
		size_t klen = (size_t)(p - k);
		if (!klen || klen >= sizeof name) {
			while (*p && *p != ' ')
				p++;
			continue;
		}
		memcpy(name, k, klen);
		name[klen] = '\0';
		struct buf val = {0};
		if (*p == '=') {
			p++;
			if (*p == '"') {
				for (p++; *p && *p != '"'; p++) {
					if (*p == '\\' && p[1])
						p++;
					rc = rc || buf_append(&val, p, 1);
				}
				if (*p == '"')
					p++;
			} else {
				const char *v = p;
				while (*p && *p != ' ' && *p != '\t')
					p++;
				rc = buf_append(&val, v, (size_t)(p - v));
			}
		}
		if (!rc && label_name_ok(name)) {
			json_t *s = json_stringn(val.data ? val.data : "", val.len);
			if (s)
				rc = set_extracted(ls, stream, name, s);
			json_decref(s);
		}
		buf_free(&val);
	}
	return rc;
}

static int
cond_holds(const struct cond *c, struct logql_labels *ls, int *error)
{
	const char *v = logql_labels_get(ls, c->name);

	if (!c->numeric) {
		if (!v)
			v = "";
		switch (c->op) {
		case CMP_EQ:
			return !strcmp(v, c->str);
		case CMP_NE:
			return strcmp(v, c->str) != 0;
		case CMP_RE:
			return !regexec(&c->re, v, 0, NULL, 0);
		default:
			return regexec(&c->re, v, 0, NULL, 0) != 0;
		}
	}
	if (!v)
		return 0; /* as in Loki: no such label, no line */
	char *end;
	double x = strtod(v, &end);
	if (end == v || *end) {
		*error = 1; /* kept, with __error__ */
		return 1;
	}
	switch (c->op) {
	case CMP_EQ:
		return x == c->num;
	case CMP_NE:
		return x != c->num;
	case CMP_GT:
		return x > c->num;
	case CMP_GE:
		return x >= c->num;
	case CMP_LT:
		return x < c->num;
	default:
		return x <= c->num;
	}
}

/* Run the stages; returns 1 when the entry passes, 0, or ERR_NOMEM. */
static int
run_stages(const logql *q, struct logql_labels *ls, const char *line, size_t line_len)
{
	struct logql_labels stream = {0};
	int rc = 0, pass = 1, copied = 0;

	for (size_t i = 0; pass && !rc && i < q->nstages; i++) {
		const struct stage *st = &q->stages[i];
		if ((st->kind == STAGE_JSON || st->kind == STAGE_LOGFMT) && !copied) {
			/* Extracted names are checked against the stream's own. */
			for (size_t j = 0; !rc && j < ls->n; j++)
				rc = logql_labels_set(&stream, ls->v[j].name, ls->v[j].value,
						      strlen(ls->v[j].value));
			copied = 1;
		}
		switch (st->kind) {
		case STAGE_LINE:
			pass = line_keeps(st, line, line_len);
			break;
		case STAGE_JSON: {
			json_t *obj = json_loadb(line, line_len, JSON_DECODE_INT_AS_REAL, NULL);
			if (json_is_object(obj))
				rc = extract_json(ls, &stream, obj, "");
			else
				rc = logql_labels_set(ls, "__error__", "JSONParserErr", 13);
			json_decref(obj);
			break;
		}
		case STAGE_LOGFMT:
			rc = extract_logfmt(ls, &stream, line);
			break;
		case STAGE_FILTER:
			for (size_t j = 0; pass && j < st->nconds; j++) {
				int error = 0;
				pass = cond_holds(&st->conds[j], ls, &error);
				if (error)
					rc = logql_labels_set(ls, "__error__", "LabelFilterErr",
							      14);
			}
			break;
		case STAGE_DROP:
			for (size_t j = 0; j < st->nnames; j++)
				labels_del(ls, st->names[j]);
			break;
		}
	}
	logql_labels_free(&stream);
	return rc ? ERR_NOMEM : pass;
}

/* Parse an event's JSON; NULL when it is not an object. */
static json_t *
load_event(const char *json, size_t len)
{
	json_t *root = json_loadb(json, len, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, NULL);

	if (root && !json_is_object(root)) {
		json_decref(root);
		root = NULL;
	}
	return root;
}

int
logql_eval_stream(const logql *q, const char *json, size_t len, struct logql_labels *labels)
{
	json_t *root = load_event(json, len);
	int rc;

	logql_labels_clear(labels);
	if (!root)
		return 0;
	rc = event_labels(root, labels, NULL, NULL);
	json_decref(root);
	if (rc)
		return ERR_NOMEM;
	return selector_matches(q, labels);
}

int
logql_eval(const logql *q, const char *json, size_t len, struct logql_labels *labels, char **line,
	   size_t *line_len)
{
	json_t *root = load_event(json, len);
	char *l = NULL;
	size_t n = 0;
	int rc;

	logql_labels_clear(labels);
	if (!root)
		return 0;
	rc = event_labels(root, labels, &l, &n);
	json_decref(root);
	if (rc)
		return ERR_NOMEM;
	if (!selector_matches(q, labels)) {
		free(l);
		return 0;
	}
	rc = run_stages(q, labels, l, n);
	if (rc != 1) {
		free(l);
		return rc;
	}
	*line = l;
	*line_len = n;
	return 1;
}

int
logql_group(const logql *q, const struct logql_labels *labels, struct logql_labels *out)
{
	logql_labels_clear(out);
	for (size_t i = 0; i < labels->n; i++) {
		const char *name = labels->v[i].name;
		int listed = 0;
		for (size_t j = 0; j < q->ngroup && !listed; j++)
			listed = !strcmp(q->group[j], name);
		/* No sum: every label; sum by: the listed; sum without: the rest. */
		int keep = !q->sum ? 1 : q->without ? !listed : listed;
		if (keep &&
		    logql_labels_set(out, name, labels->v[i].value, strlen(labels->v[i].value)))
			return ERR_NOMEM;
	}
	return 0;
}
