/*
 * version.c: the version (commit) encoding: canonical JSON, compact with
 * sorted keys, so the same version always hashes to the same id:
 *
 *   {"author":"Name <email>","format":1,"message":"...","metrics":{"k":1.5},
 *    "params":{"k":"v"},"parents":["<hex>"],"time":1700000000,"tree":"<hex>"}
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "object.h"

static json_t *oid_json(const mvm_oid *id)
{
	char hex[MVM_OID_HEXSZ + 1];
	mvm_oid_fmt(hex, id);
	return json_string(hex);
}

/* Set o[key] = val; false when val is NULL (jansson refuses invalid UTF-8). */
static int put(json_t *o, const char *key, json_t *val)
{
	return val && json_object_set_new(o, key, val) == 0;
}

static json_t *version_json(const mvm_version *v)
{
	json_t *o = json_object(), *parents = json_array(), *params = json_object(),
	       *metrics = json_object();
	size_t i;
	int ok = o && parents && params && metrics;

	for (i = 0; ok && i < v->nparents; i++)
		ok = json_array_append_new(parents, oid_json(&v->parents[i])) == 0;
	for (i = 0; ok && i < v->nparams; i++)
		ok = put(params, v->params[i].key, json_string(v->params[i].value));
	for (i = 0; ok && i < v->nmetrics; i++)
		ok = put(metrics, v->metrics[i].key, json_real(v->metrics[i].value));
	ok = ok && put(o, "format", json_integer(1)) && put(o, "tree", oid_json(&v->tree)) &&
	     put(o, "parents", json_incref(parents)) && put(o, "author", json_string(v->author)) &&
	     put(o, "time", json_integer(v->time)) && put(o, "message", json_string(v->message)) &&
	     put(o, "params", json_incref(params)) && put(o, "metrics", json_incref(metrics));
	json_decref(parents);
	json_decref(params);
	json_decref(metrics);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int mvm_version_encode(mvm_buf *out, const mvm_version *v)
{
	json_t *o = version_json(v);
	char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII) : NULL;
	int error;

	json_decref(o);
	if (!s)
		return mvm_error_set(MVM_EUSAGE, "the message, author, or a param is not valid UTF-8 text");
	mvm_buf_clear(out);
	error = mvm_buf_puts(out, s);
	free(s);
	return error;
}

static int parse_oid(mvm_oid *out, json_t *j)
{
	return json_is_string(j) ? mvm_oid_parse(out, json_string_value(j)) : MVM_ECORRUPT;
}

static int cmp_param(const void *a, const void *b)
{
	return strcmp(((const mvm_param *)a)->key, ((const mvm_param *)b)->key);
}

static int cmp_metric(const void *a, const void *b)
{
	return strcmp(((const mvm_metric *)a)->key, ((const mvm_metric *)b)->key);
}

static int take_maps(mvm_version *v, json_t *params, json_t *metrics)
{
	const char *k;
	json_t *val;

	v->params = calloc(json_object_size(params) + 1, sizeof(*v->params));
	v->metrics = calloc(json_object_size(metrics) + 1, sizeof(*v->metrics));
	if (!v->params || !v->metrics)
		return MVM_ERROR;
	json_object_foreach(params, k, val) {
		if (!json_is_string(val))
			return MVM_ECORRUPT;
		v->params[v->nparams].key = strdup(k);
		v->params[v->nparams++].value = strdup(json_string_value(val));
	}
	json_object_foreach(metrics, k, val) {
		if (!json_is_number(val))
			return MVM_ECORRUPT;
		v->metrics[v->nmetrics].key = strdup(k);
		v->metrics[v->nmetrics++].value = json_number_value(val);
	}
	mvm_version_sort(v);
	return 0;
}

void mvm_version_sort(mvm_version *v)
{
	if (v->nparams > 1)
		qsort(v->params, v->nparams, sizeof(*v->params), cmp_param);
	if (v->nmetrics > 1)
		qsort(v->metrics, v->nmetrics, sizeof(*v->metrics), cmp_metric);
}

static int take_version(mvm_version *v, json_t *o)
{
	json_t *parents = json_object_get(o, "parents"), *params = json_object_get(o, "params"),
	       *metrics = json_object_get(o, "metrics"), *p;
	size_t i;

	if (json_integer_value(json_object_get(o, "format")) != 1 || !json_is_array(parents) ||
	    !json_is_object(params) || !json_is_object(metrics) ||
	    !json_is_string(json_object_get(o, "author")) ||
	    !json_is_string(json_object_get(o, "message")) ||
	    !json_is_integer(json_object_get(o, "time")))
		return MVM_ECORRUPT;
	if (parse_oid(&v->tree, json_object_get(o, "tree")) < 0)
		return MVM_ECORRUPT;
	if (!(v->parents = calloc(json_array_size(parents) + 1, sizeof(mvm_oid))))
		return MVM_ERROR;
	json_array_foreach(parents, i, p) {
		if (parse_oid(&v->parents[i], p) < 0)
			return MVM_ECORRUPT;
		v->nparents++;
	}
	v->author = strdup(json_string_value(json_object_get(o, "author")));
	v->message = strdup(json_string_value(json_object_get(o, "message")));
	v->time = json_integer_value(json_object_get(o, "time"));
	return take_maps(v, params, metrics);
}

int mvm_version_decode(mvm_version **out, const unsigned char *p, size_t n)
{
	json_t *o = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, NULL);
	mvm_version *v = calloc(1, sizeof(*v));
	int error;

	*out = NULL;
	if (!v)
		error = MVM_ERROR;
	else if (!json_is_object(o))
		error = MVM_ECORRUPT;
	else
		error = take_version(v, o);
	json_decref(o);
	if (error < 0) {
		mvm_version_free(v);
		return mvm_error_set(error, error == MVM_ERROR ? "out of memory" : "version is malformed");
	}
	*out = v;
	return 0;
}

void mvm_version_free(mvm_version *v)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < v->nparams; i++) {
		free(v->params[i].key);
		free(v->params[i].value);
	}
	for (i = 0; i < v->nmetrics; i++)
		free(v->metrics[i].key);
	free(v->params);
	free(v->metrics);
	free(v->parents);
	free(v->author);
	free(v->message);
	free(v);
}
