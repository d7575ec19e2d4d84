/*
 * rule.h: metric rules, as used by gates ("accuracy>=current",
 * "latency_ms<=1.1*current", "loss<0.5") and by deployment health checks
 * (--rollback-if "error_rate>0.05").
 *
 *   rule := KEY OP EXPR          OP: >= <= > < == !=
 *   EXPR := NUMBER | [NUMBER *] current [(+|-) NUMBER] | current * NUMBER [(+|-) NUMBER]
 *
 * KEY starts with a letter or '_' and continues with letters, digits and
 * "_.-/:". Spaces and tabs may separate tokens. `current` is the value of
 * the same key on the version the rule compares against.
 */
#ifndef MVM_REGISTRY_RULE_H
#define MVM_REGISTRY_RULE_H

#include "mvm/common.h"

typedef enum { MVM_OP_LT, MVM_OP_LE, MVM_OP_GT, MVM_OP_GE, MVM_OP_EQ, MVM_OP_NE } mvm_rule_op;

typedef struct {
	char key[128];
	mvm_rule_op op;
	int uses_current;
	double factor;   /* right-hand side: factor * current + offset, or offset alone */
	double offset;
} mvm_rule;

/** Parse one rule. @return 0, or MVM_EUSAGE with a message naming the rule. */
int mvm_rule_parse(mvm_rule *out, const char *text);

/** "<=" for MVM_OP_LE, ... */
const char *mvm_rule_op_str(mvm_rule_op op);

/** The right-hand side for a given current value (ignored unless uses_current). */
double mvm_rule_rhs(const mvm_rule *r, double current);

/** Whether `value OP rhs` holds. */
int mvm_rule_compare(mvm_rule_op op, double value, double rhs);

#endif
