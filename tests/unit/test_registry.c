/*
 * test_registry.c: the registry and release API against a real repository:
 * registration and NAME@VER / NAME@ALIAS revisions, states, a change
 * request (self-approval refused), a canary deployment rolled back by a
 * health breach, and an intact audit chain afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mvm.h"

static char dir[] = "/tmp/mvm-registry-XXXXXX";
static mvm_repo *repo;
static mvm_oid v[2];

#define ok(expr) do { int rc_ = (expr); if (rc_ != 0) fail_msg("%s: %d %s", #expr, rc_, mvm_error_last()); } while (0)

static void commit_file(int i, const char *metric)
{
	mvm_commit_options o = MVM_COMMIT_OPTIONS_INIT;
	const char *paths[] = { "w.bin" };
	FILE *f = fopen("w.bin", "w");

	fprintf(f, "weights %d\n", i);
	fclose(f);
	ok(mvm_add(repo, paths, 1, NULL));
	o.message = "m";
	o.metrics = &metric;
	o.nmetrics = 1;
	ok(mvm_commit(&v[i], repo, &o));
}

static int setup(void **state)
{
	(void)state;
	setenv("MVM_USER", "Ada <ada@example.com>", 1);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chdir(dir), 0);
	ok(mvm_repo_init(&repo, "."));
	commit_file(0, "accuracy=0.9");
	commit_file(1, "accuracy=0.8");
	ok(mvm_model_create(repo, "m", "test model"));
	ok(mvm_model_register(NULL, repo, "m", "HEAD~1", NULL));
	ok(mvm_model_register(NULL, repo, "m", "HEAD", NULL));
	return 0;
}

static int teardown(void **state)
{
	char cmd[64];

	(void)state;
	mvm_repo_free(repo);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void test_registry__revisions_and_states(void **state)
{
	mvm_model *m = NULL;
	mvm_oid id;

	(void)state;
	ok(mvm_model_alias_set(repo, "m", "prod", "2"));
	ok(mvm_revparse(&id, repo, "m@1"));
	assert_int_equal(mvm_oid_cmp(&id, &v[0]), 0);
	ok(mvm_revparse(&id, repo, "m@prod"));
	assert_int_equal(mvm_oid_cmp(&id, &v[1]), 0);
	ok(mvm_revparse(&id, repo, "m@prod~1"));
	assert_int_equal(mvm_oid_cmp(&id, &v[0]), 0);
	assert_int_equal(mvm_revparse(&id, repo, "m@3"), MVM_ENOTFOUND);
	assert_int_equal(mvm_revparse(&id, repo, "nope@1"), MVM_ENOTFOUND);
	assert_int_equal(mvm_model_alias_set(repo, "m", "123", "1"), MVM_EUSAGE);
	ok(mvm_model_state_set(repo, "m", "1", MVM_STATE_STAGING));
	assert_int_equal(mvm_model_state_set(repo, "m", "1", MVM_STATE_NONE), MVM_ECONFLICT);
	ok(mvm_model_get(&m, repo, "m"));
	assert_int_equal(m->nversions, 2);
	assert_int_equal(m->versions[0].state, MVM_STATE_STAGING);
	assert_int_equal(m->versions[0].nhistory, 1);
	assert_int_equal(m->versions[1].nmetrics, 1);
	assert_true(m->versions[1].metrics[0].value == 0.8);
	mvm_model_free(m);
}

static void test_registry__change_request(void **state)
{
	mvm_change_options o = MVM_CHANGE_OPTIONS_INIT;
	const char *rules[] = { "accuracy>=current" };
	const char *fix[] = { "accuracy=0.95" };
	mvm_change *c = NULL;
	int64_t id;

	(void)state;
	ok(mvm_model_gates_set(repo, "m", rules, 1, NULL, 0));
	ok(mvm_model_alias_set(repo, "m", "champion", "1"));
	o.to_alias = "champion";
	ok(mvm_change_open(&id, repo, "m", "2", &o));
	assert_int_equal(mvm_change_approve(repo, id), MVM_ECONFLICT);   /* the author */
	setenv("MVM_USER", "Bob <bob@example.com>", 1);
	ok(mvm_change_approve(repo, id));
	assert_int_equal(mvm_change_approve(repo, id), MVM_ECONFLICT);   /* twice */
	setenv("MVM_USER", "Ada <ada@example.com>", 1);
	assert_int_equal(mvm_change_apply(repo, id, 0), MVM_ECONFLICT);  /* 0.8 < 0.9 */
	assert_non_null(strstr(mvm_error_last(), "accuracy>=current"));
	ok(mvm_model_metric_set(repo, "m", "2", fix, 1));
	ok(mvm_change_apply(repo, id, 0));
	ok(mvm_change_get(&c, repo, id));
	assert_int_equal(c->state, MVM_CHANGE_APPLIED);
	assert_int_equal(c->napprovals, 1);
	assert_int_equal(c->current_number, 2);                      /* champion now holds 2 */
	mvm_change_free(c);
}

static void test_registry__canary_rollback(void **state)
{
	mvm_deploy_options o = MVM_DEPLOY_OPTIONS_INIT;
	const char *rules[] = { "error_rate>0.05" };
	const char *bad[] = { "error_rate=0.3" };
	mvm_resolution r;
	mvm_health_result h;
	mvm_deployment *d = NULL;
	size_t n = 0;
	char key[32];
	int i, cand = 0;

	(void)state;
	ok(mvm_deploy(repo, "m", "1", "prod", NULL));
	o.strategy = "canary";
	o.weight = 50;
	o.rollback_if = rules;
	o.nrollback_if = 1;
	ok(mvm_deploy(repo, "m", "2", "prod", &o));
	for (i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ok(mvm_resolve(&r, repo, "m", "prod", key));
		cand += r.is_candidate;
		assert_int_equal(r.number, r.is_candidate ? 2 : 1);
		mvm_resolution_dispose(&r);
	}
	assert_in_range(cand, 70, 130);
	ok(mvm_deploy_health(&h, repo, "m", "prod", NULL, bad, 1));
	assert_true(h.rolled_back);
	assert_string_equal(h.rule, "error_rate>0.05");
	mvm_health_result_dispose(&h);
	ok(mvm_deploy_status(&d, &n, repo, "m", "prod"));
	assert_int_equal(n, 1);
	assert_int_equal(d[0].stable, 1);
	assert_false(d[0].has_candidate);
	mvm_deployments_free(d, n);
}

static void test_registry__audit_intact(void **state)
{
	mvm_audit_entry *e = NULL;
	uint64_t count;
	size_t n;

	(void)state;
	ok(mvm_audit_verify(&count, repo));
	ok(mvm_audit_list(&e, &n, repo, "m"));
	assert_true(n > 10);
	assert_int_equal(count, n + 2);   /* plus the two commits */
	assert_string_equal(e[0].action, "model.create");
	mvm_audit_free(e, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry__revisions_and_states),
		cmocka_unit_test(test_registry__change_request),
		cmocka_unit_test(test_registry__canary_rollback),
		cmocka_unit_test(test_registry__audit_intact),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
