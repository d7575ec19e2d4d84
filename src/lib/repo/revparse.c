/*
 * revparse.c: revision specs: ids and prefixes, branches, tags, HEAD,
 * MODEL@VERSION and MODEL@ALIAS (the registry), followed by any number of
 * ~N and ^ (first-parent steps).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "object/object.h"
#include "registry/registry_internal.h"
#include "refs_internal.h"
#include "repo_internal.h"

static int is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return 0;
	return n > 0;
}

static int resolve_base(mvm_oid *out, mvm_repo *repo, const char *name)
{
	mvm_buf full = MVM_BUF_INIT;
	size_t n = strlen(name);
	int error;

	if (!strcmp(name, "HEAD"))
		return mvm_head_id(out, repo);
	if (strchr(name, '@'))  /* never in ref names or ids */
		return mvm_registry_lookup(out, repo->db, name);
	if (mvm_buf_printf(&full, "refs/heads/%s", name) == 0 && mvm_ref_read(out, repo, full.ptr) == 0)
		goto found;
	mvm_buf_clear(&full);
	if (mvm_buf_printf(&full, "refs/tags/%s", name) == 0 && mvm_ref_read(out, repo, full.ptr) == 0)
		goto found;
	mvm_buf_dispose(&full);
	if (n >= 4 && n <= MVM_OID_HEXSZ && is_hex(name, n)) {
		error = mvm_odb_expand(out, repo->db, MVM_OBJ_VERSION, name);
		if (error == MVM_ENOTFOUND)
			error = mvm_error_set(MVM_ENOTFOUND, "unknown revision '%s'", name);
		return error;
	}
	return mvm_error_set(MVM_ENOTFOUND, "unknown revision '%s' (not a branch, tag or id)", name);
found:
	mvm_buf_dispose(&full);
	mvm_error_clear();
	return 0;
}

static int first_parent(mvm_oid *id, mvm_repo *repo, const char *spec)
{
	mvm_version *v = NULL;
	int error;

	if ((error = mvm_version_read(&v, repo->db, id)) < 0)
		return error;
	if (!v->nparents)
		error = mvm_error_set(MVM_ENOTFOUND, "revision '%s' goes past the first version", spec);
	else
		*id = v->parents[0];
	mvm_version_free(v);
	return error;
}

int mvm_revparse(mvm_oid *out, mvm_repo *repo, const char *spec)
{
	size_t base_len = strcspn(spec, "~^");
	const char *p = spec + base_len;
	char *base;
	int error;

	if (!base_len)
		return mvm_error_set(MVM_EUSAGE, "empty revision '%s'", spec);
	if (!(base = strndup(spec, base_len)))
		return mvm_error_set(MVM_ERROR, "out of memory");
	error = resolve_base(out, repo, base);
	free(base);
	while (!error && *p) {
		long steps = 1;
		char *end;

		if (*p == '~' && isdigit((unsigned char)p[1])) {
			steps = strtol(p + 1, &end, 10);
			p = end;
		} else if (*p == '~' || *p == '^') {
			p++;
		} else {
			return mvm_error_set(MVM_EUSAGE, "cannot parse revision '%s'", spec);
		}
		while (!error && steps-- > 0)
			error = first_parent(out, repo, spec);
	}
	return error;
}
