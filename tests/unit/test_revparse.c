/*
 * test_revparse.c: revision specs against a real repository built through
 * the public API: HEAD, ~N, ^, branches, tags, id prefixes and errors.
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

static char dir[] = "/tmp/mvm-rev-XXXXXX";
static mvm_repo *repo;
static mvm_oid v[3];

static void commit_file(int i)
{
	mvm_commit_options o = MVM_COMMIT_OPTIONS_INIT;
	const char *paths[] = { "f.txt" };
	FILE *f = fopen("f.txt", "w");

	fprintf(f, "version %d\n", i);
	fclose(f);
	assert_int_equal(mvm_add(repo, paths, 1, NULL), 0);
	o.message = "m";
	assert_int_equal(mvm_commit(&v[i], repo, &o), 0);
}

static int setup(void **state)
{
	(void)state;
	setenv("MVM_USER", "T <t@t>", 1);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(mvm_repo_init(&repo, "."), 0);
	commit_file(0);
	commit_file(1);
	commit_file(2);
	assert_int_equal(mvm_branch_create(repo, "dev", &v[1]), 0);
	assert_int_equal(mvm_tag_create(repo, "v0", &v[0], "first"), 0);
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

static void expect(const char *spec, const mvm_oid *want)
{
	mvm_oid got;

	if (mvm_revparse(&got, repo, spec) != 0)
		fail_msg("%s: %s", spec, mvm_error_last());
	assert_int_equal(mvm_oid_cmp(&got, want), 0);
}

static void test_revparse__names_and_steps(void **state)
{
	char hex[MVM_OID_HEXSZ + 1], prefix[9];

	(void)state;
	expect("HEAD", &v[2]);
	expect("main", &v[2]);
	expect("HEAD~1", &v[1]);
	expect("HEAD^", &v[1]);
	expect("HEAD^^", &v[0]);
	expect("HEAD~2", &v[0]);
	expect("main~1^", &v[0]);
	expect("dev", &v[1]);
	expect("v0", &v[0]);
	mvm_oid_fmt(hex, &v[1]);
	expect(hex, &v[1]);
	memcpy(prefix, hex, 8);
	prefix[8] = '\0';
	expect(prefix, &v[1]);
}

static void test_revparse__errors(void **state)
{
	mvm_oid got;

	(void)state;
	assert_int_equal(mvm_revparse(&got, repo, "nope"), MVM_ENOTFOUND);
	assert_int_equal(mvm_revparse(&got, repo, "HEAD~3"), MVM_ENOTFOUND);
	assert_int_equal(mvm_revparse(&got, repo, "ffffffffff"), MVM_ENOTFOUND);
	assert_int_equal(mvm_revparse(&got, repo, "abc"), MVM_ENOTFOUND);  /* too short for a prefix */
	assert_int_equal(mvm_revparse(&got, repo, "HEAD~x"), MVM_EUSAGE);
	assert_int_equal(mvm_revparse(&got, repo, "~1"), MVM_EUSAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_revparse__names_and_steps),
		cmocka_unit_test(test_revparse__errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
