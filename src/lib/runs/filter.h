/*
 * filter.h: the run filter and sort keys of 'mvm run list' (pure logic).
 *
 *   filter := or
 *   or     := and { "or" and }
 *   and    := term { "and" term }
 *   term   := "(" filter ")" | field OP value
 *   field  := params.KEY | metrics.KEY | tags.KEY | status | name | id
 *   OP     := = | == | != | < | <= | > | >=
 *   value  := NUMBER | 'text' | "text"
 *
 * `and` binds tighter than `or`; keywords are case-insensitive. metrics.X
 * is the last value of the series (by step) and compares with numbers
 * only. A param or tag compares as a number when both it and the value are
 * numbers, else as text (bytewise). A comparison with something a run
 * lacks is false. Errors name the offending token and its column (1-based).
 */
#ifndef MVM_RUNS_FILTER_H
#define MVM_RUNS_FILTER_H

#include <stddef.h>
#include "mvm/runs.h"

typedef enum {
	MVM_FIELD_PARAM, MVM_FIELD_METRIC, MVM_FIELD_TAG, MVM_FIELD_STATUS, MVM_FIELD_NAME, MVM_FIELD_ID
} mvm_field_kind;

typedef struct {
	mvm_field_kind kind;
	char key[128];           /* for params, metrics and tags */
} mvm_run_field;

/** Parse a field name ("metrics.loss", "status"). @return 0, MVM_EUSAGE. */
int mvm_run_field_parse(mvm_run_field *out, const char *text, size_t len);

/** A field's value in a run: 1 number (*num), 2 text (*str), 0 absent. */
int mvm_run_field_value(double *num, const char **str, const mvm_run *r, const mvm_run_field *f);

/** Whether text is a whole finite number (then *out holds it). */
int mvm_run_text_number(double *out, const char *s);

typedef struct mvm_filter mvm_filter;

/*
 * Parse a filter. On MVM_EUSAGE *errcol (when not NULL) is the 1-based
 * column of the offending token and the message names it.
 */
int mvm_filter_parse(mvm_filter **out, size_t *errcol, const char *text);
/** Whether a run matches. */
int mvm_filter_match(const mvm_filter *f, const mvm_run *r);
void mvm_filter_free(mvm_filter *f);

#endif
