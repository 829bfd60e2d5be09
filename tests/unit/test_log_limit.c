/*
 * common/log_limit: a burst goes out, then one line per 1/rate seconds;
 * what is held back is counted exactly and reported once, before the next
 * line that may go out or after the quiet period; idle time refills the
 * bucket only up to the burst.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/log_limit.h"

static void test_burst_then_rate(void **state)
{
	log_limit l;
	unsigned long long before = 99;
	int i, out = 0;

	(void)state;
	log_limit_init(&l, 1.0, 5);
	for (i = 0; i < 100; i++)       /* 100 lines in the same millisecond */
		out += log_limit_take(&l, 1000, &before);
	assert_int_equal(out, 5);
	assert_int_equal(log_limit_take(&l, 1500, &before), 0);   /* half a token */
	assert_int_equal(log_limit_take(&l, 2000, &before), 1);   /* one second on: one line */
	assert_int_equal(before, 96);   /* 95 of the burst ms + the one at 1500 */
	assert_int_equal(log_limit_take(&l, 2000, &before), 0);
}

static void test_flush_after_quiet(void **state)
{
	log_limit l;
	unsigned long long before;
	int i;

	(void)state;
	log_limit_init(&l, 1.0, 2);
	for (i = 0; i < 10; i++)
		log_limit_take(&l, 0, &before);
	assert_int_equal(log_limit_flush(&l, 5000, 10000), 0);    /* not quiet long enough */
	assert_int_equal(log_limit_flush(&l, 10000, 10000), 8);
	assert_int_equal(log_limit_flush(&l, 20000, 10000), 0);   /* reported once */
	assert_int_equal(log_limit_take(&l, 20000, &before), 1);
	assert_int_equal(before, 0);
}

static void test_refill_capped_at_burst(void **state)
{
	log_limit l;
	unsigned long long before;
	int i, out = 0;

	(void)state;
	log_limit_init(&l, 10.0, 3);
	log_limit_take(&l, 0, &before);
	for (i = 0; i < 50; i++)        /* an hour idle gives back 3, not 36000 */
		out += log_limit_take(&l, 3600000, &before);
	assert_int_equal(out, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_rate),
		cmocka_unit_test(test_flush_after_quiet),
		cmocka_unit_test(test_refill_capped_at_burst),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
