/*
 * filter.c: the run filter: a tokenizer, a recursive-descent parser into a
 * small tree, and its evaluation against a loaded run. Grammar in filter.h.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "filter.h"

typedef enum { T_END, T_WORD, T_NUMBER, T_STRING, T_OP, T_LPAREN, T_RPAREN, T_BAD } tok_type;
typedef enum { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE } cmp_op;
typedef enum { N_AND, N_OR, N_CMP } node_type;

typedef struct {
	tok_type type;
	size_t start, len;       /* in the text; strings exclude the quotes */
	size_t col;              /* 1-based column of the token */
	double num;
	cmp_op op;
} token;

struct mvm_filter {
	node_type type;
	struct mvm_filter *a, *b;
	mvm_run_field field;
	cmp_op op;
	int is_num;
	double num;
	char *text;              /* the value as written (numbers too) */
};

typedef struct {
	const char *s;
	size_t pos;
	token tok;
	size_t *errcol;
} parser;

/* ---- tokens ---- */

static int word_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-' || c == '/' || c == ':';
}

static void lex_op(parser *p, token *t)
{
	const char *s = p->s + p->pos;
	static const struct { const char *text; cmp_op op; } ops[] = {
		{ "==", OP_EQ }, { "!=", OP_NE }, { "<=", OP_LE }, { ">=", OP_GE },
		{ "=", OP_EQ }, { "<", OP_LT }, { ">", OP_GT } };
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strncmp(s, ops[i].text, strlen(ops[i].text))) {
			t->type = T_OP;
			t->op = ops[i].op;
			t->len = strlen(ops[i].text);
			return;
		}
	t->type = T_BAD;
	t->len = 1;
}

static void lex_quoted(parser *p, token *t)
{
	char q = p->s[p->pos];
	const char *end = strchr(p->s + p->pos + 1, q);

	if (!end) {
		t->type = T_BAD;
		t->len = strlen(p->s + p->pos);
		return;
	}
	t->type = T_STRING;
	t->start = p->pos + 1;
	t->len = (size_t)(end - (p->s + p->pos + 1));
	p->pos = (size_t)(end - p->s) + 1;
}

static void lex_number_or_word(parser *p, token *t)
{
	const char *s = p->s + p->pos;
	char *end;
	size_t n = s[0] == '+';

	while (word_char(s[n]) || ((s[n] == '+' || s[n] == '-') && n && (s[n - 1] == 'e' || s[n - 1] == 'E')))
		n++;
	t->len = n ? n : 1;
	errno = 0;
	t->num = strtod(s, &end);
	if (n && end == s + n && !errno && isfinite(t->num) && !isalpha((unsigned char)s[0]))
		t->type = T_NUMBER;
	else if (n && (isalpha((unsigned char)s[0]) || s[0] == '_'))
		t->type = T_WORD;
	else
		t->type = T_BAD;
}

static void next(parser *p)
{
	token *t = &p->tok;

	while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t')
		p->pos++;
	memset(t, 0, sizeof(*t));
	t->start = p->pos;
	t->col = p->pos + 1;
	if (!p->s[p->pos]) {
		t->type = T_END;
		return;
	}
	if (p->s[p->pos] == '(' || p->s[p->pos] == ')') {
		t->type = p->s[p->pos] == '(' ? T_LPAREN : T_RPAREN;
		t->len = 1;
	} else if (p->s[p->pos] == '\'' || p->s[p->pos] == '"') {
		lex_quoted(p, t);
		if (t->type == T_STRING)
			return;  /* pos already past the closing quote */
	} else if (strchr("=!<>", p->s[p->pos])) {
		lex_op(p, t);
	} else {
		lex_number_or_word(p, t);
	}
	p->pos += t->len;
}

/* ---- errors ---- */

static int fail_at(parser *p, const char *what)
{
	const token *t = &p->tok;
	int n = t->len > 40 ? 40 : (int)t->len;

	if (p->errcol)
		*p->errcol = t->col;
	if (t->type == T_END)
		return mvm_error_set(MVM_EUSAGE, "filter: %s at column %zu, found the end of the filter", what, t->col);
	if (t->type == T_BAD && (p->s[t->start] == '\'' || p->s[t->start] == '"'))
		return mvm_error_set(MVM_EUSAGE, "filter: unterminated string at column %zu", t->col);
	return mvm_error_set(MVM_EUSAGE, "filter: %s at column %zu, found '%.*s'", what, t->col, n, p->s + t->start);
}

static int is_keyword(const parser *p, const char *kw)
{
	return p->tok.type == T_WORD && p->tok.len == strlen(kw) && !strncasecmp(p->s + p->tok.start, kw, p->tok.len);
}

/* ---- fields ---- */

int mvm_run_field_parse(mvm_run_field *out, const char *text, size_t len)
{
	static const struct { const char *prefix; mvm_field_kind kind; } pre[] = {
		{ "params.", MVM_FIELD_PARAM }, { "metrics.", MVM_FIELD_METRIC }, { "tags.", MVM_FIELD_TAG } };
	static const struct { const char *name; mvm_field_kind kind; } attrs[] = {
		{ "status", MVM_FIELD_STATUS }, { "name", MVM_FIELD_NAME }, { "id", MVM_FIELD_ID } };
	size_t i, n;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < 3; i++) {
		n = strlen(pre[i].prefix);
		if (len > n && !strncmp(text, pre[i].prefix, n)) {
			if (len - n >= sizeof(out->key))
				break;
			out->kind = pre[i].kind;
			memcpy(out->key, text + n, len - n);
			return 0;
		}
	}
	for (i = 0; i < 3; i++)
		if (len == strlen(attrs[i].name) && !strncmp(text, attrs[i].name, len)) {
			out->kind = attrs[i].kind;
			return 0;
		}
	return mvm_error_set(MVM_EUSAGE, "unknown field '%.*s' (use params.KEY, metrics.KEY, tags.KEY, status, "
			     "name or id)", (int)(len > 60 ? 60 : len), text);
}

int mvm_run_field_value(double *num, const char **str, const mvm_run *r, const mvm_run_field *f)
{
	const mvm_run_series *s;
	size_t i;

	switch (f->kind) {
	case MVM_FIELD_METRIC:
		if (!(s = mvm_run_series_find(r, f->key)) || !s->n)
			return 0;
		*num = s->last;
		return 1;
	case MVM_FIELD_PARAM:
		return (*str = mvm_run_param(r, f->key)) ? 2 : 0;
	case MVM_FIELD_TAG:
		for (i = 0; i < r->ntags; i++)
			if (!strcmp(r->tags[i].key, f->key)) {
				*str = r->tags[i].value;
				return 2;
			}
		return 0;
	case MVM_FIELD_STATUS:
		*str = mvm_run_status_name(r->status);
		return 2;
	case MVM_FIELD_NAME:
		*str = r->name;
		return 2;
	case MVM_FIELD_ID:
		*num = (double)r->id;
		return 1;
	}
	return 0;
}

/* ---- parser ---- */

static mvm_filter *node_new(node_type type)
{
	mvm_filter *f = calloc(1, sizeof(*f));

	if (f)
		f->type = type;
	return f;
}

static int oom(void)
{
	return mvm_error_set(MVM_ERROR, "out of memory");
}

static int parse_or(mvm_filter **out, parser *p);

static int parse_value(mvm_filter *f, parser *p)
{
	if (p->tok.type != T_NUMBER && p->tok.type != T_STRING)
		return fail_at(p, "expected a number or a 'quoted string'");
	if (f->field.kind == MVM_FIELD_METRIC && p->tok.type != T_NUMBER)
		return fail_at(p, "metrics compare with numbers");
	f->is_num = p->tok.type == T_NUMBER;
	f->num = p->tok.num;
	if (!(f->text = strndup(p->s + p->tok.start, p->tok.len)))
		return oom();
	next(p);
	return 0;
}

static int parse_cmp(mvm_filter **out, parser *p)
{
	mvm_filter *f;
	int error;

	if (p->tok.type != T_WORD || is_keyword(p, "and") || is_keyword(p, "or"))
		return fail_at(p, "expected a field (params.KEY, metrics.KEY, tags.KEY, status, name, id)");
	if (!(f = node_new(N_CMP)))
		return oom();
	*out = f;
	if (mvm_run_field_parse(&f->field, p->s + p->tok.start, p->tok.len) < 0)
		return fail_at(p, "unknown field (use params.KEY, metrics.KEY, tags.KEY, status, name or id)");
	next(p);
	if (p->tok.type != T_OP)
		return fail_at(p, "expected a comparison (=, !=, <, <=, >, >=)");
	f->op = p->tok.op;
	next(p);
	if ((error = parse_value(f, p)) < 0)
		return error;
	return 0;
}

static int parse_term(mvm_filter **out, parser *p)
{
	token open;
	int error;

	if (p->tok.type != T_LPAREN)
		return parse_cmp(out, p);
	open = p->tok;
	next(p);
	if ((error = parse_or(out, p)) < 0)
		return error;
	if (p->tok.type != T_RPAREN) {
		char what[64];
		snprintf(what, sizeof(what), "expected ')' (for the '(' at column %zu)", open.col);
		return fail_at(p, what);
	}
	next(p);
	return 0;
}

/* Left-associative chain of `kw`-joined operands parsed by `sub`. */
static int parse_chain(mvm_filter **out, parser *p, const char *kw, node_type type,
		       int (*sub)(mvm_filter **, parser *))
{
	mvm_filter *n;
	int error;

	if ((error = sub(out, p)) < 0)
		return error;
	while (is_keyword(p, kw)) {
		next(p);
		if (!(n = node_new(type)))
			return oom();
		n->a = *out;
		*out = n;
		if ((error = sub(&n->b, p)) < 0)
			return error;
	}
	return 0;
}

static int parse_and(mvm_filter **out, parser *p)
{
	return parse_chain(out, p, "and", N_AND, parse_term);
}

static int parse_or(mvm_filter **out, parser *p)
{
	return parse_chain(out, p, "or", N_OR, parse_and);
}

int mvm_filter_parse(mvm_filter **out, size_t *errcol, const char *text)
{
	parser p = { text, 0, { 0 }, errcol };
	mvm_filter *f = NULL;
	int error;

	*out = NULL;
	if (errcol)
		*errcol = 0;
	next(&p);
	if ((error = parse_or(&f, &p)) == 0 && p.tok.type != T_END)
		error = fail_at(&p, "expected 'and', 'or' or the end of the filter");
	if (error < 0) {
		mvm_filter_free(f);
		return error;
	}
	*out = f;
	return 0;
}

void mvm_filter_free(mvm_filter *f)
{
	if (!f)
		return;
	mvm_filter_free(f->a);
	mvm_filter_free(f->b);
	free(f->text);
	free(f);
}

/* ---- evaluation ---- */

static int holds(cmp_op op, int c)
{
	switch (op) {
	case OP_EQ: return c == 0;
	case OP_NE: return c != 0;
	case OP_LT: return c < 0;
	case OP_LE: return c <= 0;
	case OP_GT: return c > 0;
	case OP_GE: return c >= 0;
	}
	return 0;
}

static int num_cmp(double a, double b)
{
	return a < b ? -1 : a > b ? 1 : 0;
}

int mvm_run_text_number(double *out, const char *s)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return *s && !*end && !errno && isfinite(*out);
}

static int match_cmp(const mvm_filter *f, const mvm_run *r)
{
	const char *str = NULL;
	double num = 0, v;
	int kind = mvm_run_field_value(&num, &str, r, &f->field);

	if (kind == 0)
		return 0;
	if (kind == 2 && f->is_num && mvm_run_text_number(&v, str))
		return holds(f->op, num_cmp(v, f->num));
	if (kind == 1 && f->is_num)
		return holds(f->op, num_cmp(num, f->num));
	if (kind == 1) {
		char buf[32];
		snprintf(buf, sizeof(buf), "%.17g", num);
		return holds(f->op, strcmp(buf, f->text));
	}
	return holds(f->op, strcmp(str, f->text));
}

int mvm_filter_match(const mvm_filter *f, const mvm_run *r)
{
	switch (f->type) {
	case N_AND: return mvm_filter_match(f->a, r) && mvm_filter_match(f->b, r);
	case N_OR: return mvm_filter_match(f->a, r) || mvm_filter_match(f->b, r);
	case N_CMP: return match_cmp(f, r);
	}
	return 0;
}
