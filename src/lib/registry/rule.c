/*
 * rule.c: parsing and evaluating metric rules (grammar in rule.h). Pure
 * functions: no database, no allocation.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rule.h"

static const char *const op_str[] = { "<", "<=", ">", ">=", "==", "!=" };

const char *mvm_rule_op_str(mvm_rule_op op)
{
	return (unsigned)op < 6 ? op_str[op] : "?";
}

static void skip_ws(const char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

static int parse_key(mvm_rule *r, const char **p)
{
	const char *s = *p;
	size_t n = 0;

	if (!isalpha((unsigned char)*s) && *s != '_')
		return -1;
	while (isalnum((unsigned char)s[n]) || (s[n] && strchr("_.-/:", s[n])))
		n++;
	if (n >= sizeof(r->key))
		return -1;
	memcpy(r->key, s, n);
	r->key[n] = '\0';
	*p = s + n;
	return 0;
}

static int parse_op(mvm_rule *r, const char **p)
{
	static const struct { const char *s; mvm_rule_op op; } ops[] = {
		{ ">=", MVM_OP_GE }, { "<=", MVM_OP_LE }, { "==", MVM_OP_EQ }, { "!=", MVM_OP_NE },
		{ ">", MVM_OP_GT }, { "<", MVM_OP_LT },
	};
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strncmp(*p, ops[i].s, strlen(ops[i].s))) {
			r->op = ops[i].op;
			*p += strlen(ops[i].s);
			return 0;
		}
	return -1;
}

/* A finite decimal number (no sign of its own: '+'/'-' are operators here, except a leading '-'). */
static int parse_number(double *out, const char **p)
{
	char *end;

	if (!isdigit((unsigned char)**p) && **p != '.' && **p != '-')
		return -1;
	errno = 0;
	*out = strtod(*p, &end);
	if (end == *p || errno || !isfinite(*out))
		return -1;
	*p = end;
	return 0;
}

static int parse_current(const char **p)
{
	if (strncmp(*p, "current", 7) || isalnum((unsigned char)(*p)[7]) || (*p)[7] == '_')
		return -1;
	*p += 7;
	return 0;
}

/* [(+|-) NUMBER] after current */
static int parse_offset(mvm_rule *r, const char **p)
{
	char sign;

	skip_ws(p);
	if (**p != '+' && **p != '-')
		return 0;
	sign = *(*p)++;
	skip_ws(p);
	if (**p == '-' || parse_number(&r->offset, p) < 0)
		return -1;
	if (sign == '-')
		r->offset = -r->offset;
	return 0;
}

static int parse_expr(mvm_rule *r, const char **p)
{
	double n;

	r->factor = 1;
	r->offset = 0;
	if (parse_current(p) == 0) {
		r->uses_current = 1;
		skip_ws(p);
		if (**p == '*') {
			(*p)++;
			skip_ws(p);
			if (parse_number(&r->factor, p) < 0)
				return -1;
		}
		return parse_offset(r, p);
	}
	if (parse_number(&n, p) < 0)
		return -1;
	skip_ws(p);
	if (**p != '*') {
		r->offset = n;
		return 0;
	}
	(*p)++;
	skip_ws(p);
	if (parse_current(p) < 0)
		return -1;
	r->uses_current = 1;
	r->factor = n;
	return parse_offset(r, p);
}

int mvm_rule_parse(mvm_rule *out, const char *text)
{
	const char *p = text;

	memset(out, 0, sizeof(*out));
	skip_ws(&p);
	if (parse_key(out, &p) < 0)
		goto bad;
	skip_ws(&p);
	if (parse_op(out, &p) < 0)
		goto bad;
	skip_ws(&p);
	if (parse_expr(out, &p) < 0)
		goto bad;
	skip_ws(&p);
	if (*p)
		goto bad;
	return 0;
bad:
	return mvm_error_set(MVM_EUSAGE, "cannot parse rule '%s' (expected KEY OP VALUE, e.g. 'accuracy>=current', "
			     "'latency_ms<=1.1*current', 'loss<0.5')", text);
}

double mvm_rule_rhs(const mvm_rule *r, double current)
{
	return r->uses_current ? r->factor * current + r->offset : r->offset;
}

int mvm_rule_compare(mvm_rule_op op, double value, double rhs)
{
	switch (op) {
	case MVM_OP_LT: return value < rhs;
	case MVM_OP_LE: return value <= rhs;
	case MVM_OP_GT: return value > rhs;
	case MVM_OP_GE: return value >= rhs;
	case MVM_OP_EQ: return value == rhs;
	case MVM_OP_NE: return value != rhs;
	}
	return 0;
}
