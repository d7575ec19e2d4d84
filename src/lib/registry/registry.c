/*
 * registry.c: what the registry's files share: names, states, the
 * transaction wrapper and metric parsing.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo/repo_internal.h"
#include "registry_internal.h"

static const char *const state_names[] = { "none", "staging", "production", "archived" };

const char *mvm_model_state_name(mvm_model_state s)
{
	return (unsigned)s < 4 ? state_names[s] : "unknown";
}

int mvm_model_state_parse(mvm_model_state *out, const char *name)
{
	int i;

	for (i = 0; i < 4; i++)
		if (!strcmp(name, state_names[i])) {
			*out = (mvm_model_state)i;
			return 0;
		}
	return mvm_error_set(MVM_EUSAGE, "unknown state '%s' (use none, staging, production or archived)", name);
}

static int name_ok(const char *name)
{
	size_t n = strlen(name), i;

	if (!n || n > 100 || !isalnum((unsigned char)name[0]))
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
			return 0;
	return 1;
}

int mvm_model_name_check(const char *name)
{
	if (!name_ok(name))
		return mvm_error_set(MVM_EUSAGE, "'%s' is not a valid model name (letters, digits, '.', '_', '-'; "
				     "starting with a letter or digit)", name);
	return 0;
}

int mvm_alias_name_check(const char *name, const char *what)
{
	if (!name_ok(name) || strspn(name, "0123456789") == strlen(name))
		return mvm_error_set(MVM_EUSAGE, "'%s' is not a valid %s name (letters, digits, '.', '_', '-'; "
				     "not only digits)", name, what);
	return 0;
}

int mvm_reg_parse_metric(char **key, double *value, const char *kv)
{
	const char *eq = strchr(kv, '=');
	char *end;

	*key = NULL;
	if (!eq || eq == kv || !eq[1])
		return mvm_error_set(MVM_EUSAGE, "metric '%s' must look like KEY=NUMBER", kv);
	errno = 0;
	*value = strtod(eq + 1, &end);
	if (*end || errno || !isfinite(*value))
		return mvm_error_set(MVM_EUSAGE, "metric '%s': '%s' is not a finite number", kv, eq + 1);
	if (!(*key = strndup(kv, (size_t)(eq - kv))))
		return mvm_error_set(MVM_ERROR, "out of memory");
	return 0;
}

int mvm_reg_values_parse(mvm_reg_values *out, const char *const *kvs, size_t n, const char *what)
{
	size_t i, k;
	int error = 0;

	out->n = 0;
	out->keys = calloc(n + 1, sizeof(char *));
	out->values = calloc(n + 1, sizeof(double));
	if (!out->keys || !out->values)
		return mvm_error_set(MVM_ERROR, "out of memory");
	if (!n)
		return mvm_error_set(MVM_EUSAGE, "give at least one KEY=NUMBER");
	for (i = 0; i < n && !error; i++) {
		if ((error = mvm_reg_parse_metric(&out->keys[i], &out->values[i], kvs[i])) < 0)
			break;
		out->n++;
		for (k = 0; k < i && !error; k++)
			if (!strcmp(out->keys[k], out->keys[i]))
				error = mvm_error_set(MVM_EUSAGE, "%s %s given twice", what, out->keys[i]);
	}
	return error;
}

void mvm_reg_values_dispose(mvm_reg_values *v)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		free(v->keys[i]);
	free(v->keys);
	free(v->values);
	memset(v, 0, sizeof(*v));
}

void mvm_reg_fmt_number(char out[32], double v)
{
	snprintf(out, 32, "%.15g", v);
	if (strtod(out, NULL) != v)
		snprintf(out, 32, "%.17g", v);
}
