/*
 * test_rules.c: the metric rule grammar of gates and health checks:
 * accepted forms, the right-hand side they compute, comparisons, and
 * malformed rules refused with MVM_EUSAGE.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "registry/rule.h"

static mvm_rule parse_ok(const char *text)
{
	mvm_rule r;

	if (mvm_rule_parse(&r, text) != 0)
		fail_msg("%s: %s", text, mvm_error_last());
	return r;
}

static void test_rules__constant(void **state)
{
	mvm_rule r = parse_ok("loss<0.5");

	(void)state;
	assert_string_equal(r.key, "loss");
	assert_int_equal(r.op, MVM_OP_LT);
	assert_false(r.uses_current);
	assert_true(mvm_rule_rhs(&r, 123) == 0.5);
	r = parse_ok("  delta_acc >= -0.01 ");
	assert_string_equal(r.key, "delta_acc");
	assert_int_equal(r.op, MVM_OP_GE);
	assert_true(mvm_rule_rhs(&r, 0) == -0.01);
	r = parse_ok("eval/loss.v2<=1e-3");
	assert_string_equal(r.key, "eval/loss.v2");
	assert_true(mvm_rule_rhs(&r, 0) == 1e-3);
}

static void test_rules__current(void **state)
{
	mvm_rule r = parse_ok("accuracy>=current");

	(void)state;
	assert_true(r.uses_current);
	assert_int_equal(r.op, MVM_OP_GE);
	assert_true(mvm_rule_rhs(&r, 0.9) == 0.9);
	r = parse_ok("latency_ms<=1.1*current");
	assert_int_equal(r.op, MVM_OP_LE);
	assert_true(mvm_rule_rhs(&r, 100) == 1.1 * 100);
	r = parse_ok("latency_ms <= current * 1.25");
	assert_true(mvm_rule_rhs(&r, 100) == 125);
	r = parse_ok("accuracy > current - 0.01");
	assert_int_equal(r.op, MVM_OP_GT);
	assert_true(mvm_rule_rhs(&r, 0.9) == 0.9 - 0.01);
	r = parse_ok("p99 < 2 * current + 5");
	assert_true(mvm_rule_rhs(&r, 10) == 25);
	r = parse_ok("errors==current");
	assert_int_equal(r.op, MVM_OP_EQ);
	r = parse_ok("errors != 0");
	assert_int_equal(r.op, MVM_OP_NE);
}

static void test_rules__compare(void **state)
{
	(void)state;
	assert_true(mvm_rule_compare(MVM_OP_LT, 1, 2));
	assert_false(mvm_rule_compare(MVM_OP_LT, 2, 2));
	assert_true(mvm_rule_compare(MVM_OP_LE, 2, 2));
	assert_true(mvm_rule_compare(MVM_OP_GT, 3, 2));
	assert_false(mvm_rule_compare(MVM_OP_GT, 2, 2));
	assert_true(mvm_rule_compare(MVM_OP_GE, 2, 2));
	assert_true(mvm_rule_compare(MVM_OP_EQ, 2, 2));
	assert_true(mvm_rule_compare(MVM_OP_NE, 1, 2));
	assert_string_equal(mvm_rule_op_str(MVM_OP_GE), ">=");
	assert_string_equal(mvm_rule_op_str(MVM_OP_NE), "!=");
}

static void test_rules__malformed(void **state)
{
	static const char *const bad[] = {
		"", "accuracy", "accuracy>=", ">=0.5", "1acc>=0", "acc=>0", "acc=0.5", "acc>>0",
		"acc>=currents", "acc>=current*", "acc>=current+", "acc>=current+-1", "acc>=2*", "acc>=2*3",
		"acc>=nan", "acc>=inf", "acc>=-inf", "acc>=1e999", "acc>=0.5 extra", "acc>=current current",
		"acc >= cur", "a b>=1", "acc>=0.5\n", "acc>=x*current",
	};
	mvm_rule r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (mvm_rule_parse(&r, bad[i]) != MVM_EUSAGE)
			fail_msg("'%s' was accepted", bad[i]);
		assert_non_null(strstr(mvm_error_last(), "cannot parse rule"));
	}
}

static void test_rules__long_key(void **state)
{
	char text[300];
	mvm_rule r;

	(void)state;
	memset(text, 'k', 200);
	strcpy(text + 200, ">=1");
	assert_int_equal(mvm_rule_parse(&r, text), MVM_EUSAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules__constant),
		cmocka_unit_test(test_rules__current),
		cmocka_unit_test(test_rules__compare),
		cmocka_unit_test(test_rules__malformed),
		cmocka_unit_test(test_rules__long_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
