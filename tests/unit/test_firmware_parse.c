/*
 * sms-firmware's value parsers (services/firmware/firmware_parse.c): rates,
 * percentages, phases and times, each with one spelling; everything else
 * refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "services/firmware/firmware_cli.h"

static void rates(void **state)
{
	int r = 0;

	(void)state;
	assert_int_equal(firmware_parse_rate("60/min", &r), 0);
	assert_int_equal(r, 60);
	assert_int_equal(firmware_parse_rate("5", &r), 0);
	assert_int_equal(r, 5);
	assert_int_equal(firmware_parse_rate("1000000/min", &r), 0);
	assert_int_equal(firmware_parse_rate("0/min", &r), -1);
	assert_int_equal(firmware_parse_rate("1000001", &r), -1);
	assert_int_equal(firmware_parse_rate("60/s", &r), -1);
	assert_int_equal(firmware_parse_rate("-5", &r), -1);
	assert_int_equal(firmware_parse_rate("", &r), -1);
}

static void percents(void **state)
{
	int h = 0;

	(void)state;
	assert_int_equal(firmware_parse_percent("10%", &h), 0);
	assert_int_equal(h, 1000);
	assert_int_equal(firmware_parse_percent("2.5", &h), 0);
	assert_int_equal(h, 250);
	assert_int_equal(firmware_parse_percent("0.25%", &h), 0);
	assert_int_equal(h, 25);
	assert_int_equal(firmware_parse_percent("100%", &h), 0);
	assert_int_equal(h, 10000);
	assert_int_equal(firmware_parse_percent("100.5%", &h), -1);
	assert_int_equal(firmware_parse_percent("1.234", &h), -1);
	assert_int_equal(firmware_parse_percent("10%%", &h), -1);
	assert_int_equal(firmware_parse_percent("ten", &h), -1);
}

static void phases(void **state)
{
	int p[FIRMWARE_MAX_PHASES];
	size_t n = 0;

	(void)state;
	assert_int_equal(firmware_parse_phases("5%,25%,100%", p, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(p[0], 5);
	assert_int_equal(p[2], 100);
	assert_int_equal(firmware_parse_phases("100", p, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(firmware_parse_phases("5%,25%", p, &n), -1);        /* not ending at 100 */
	assert_int_equal(firmware_parse_phases("25%,5%,100%", p, &n), -1);   /* not ascending */
	assert_int_equal(firmware_parse_phases("25%,25%,100%", p, &n), -1);
	assert_int_equal(firmware_parse_phases("0%,100%", p, &n), -1);
	assert_int_equal(firmware_parse_phases("5%,,100%", p, &n), -1);
	assert_int_equal(firmware_parse_phases("5%;100%", p, &n), -1);
	assert_int_equal(firmware_parse_phases("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,100", p, &n), -1);
}

static void times(void **state)
{
	time_t t = 0;

	(void)state;
	assert_int_equal(firmware_parse_time("+90s", 1000, &t), 0);
	assert_int_equal(t, 1090);
	assert_int_equal(firmware_parse_time("+2h", 1000, &t), 0);
	assert_int_equal(t, 1000 + 7200);
	assert_int_equal(firmware_parse_time("+7d", 0, &t), 0);
	assert_int_equal(t, 7 * 86400);
	assert_int_equal(firmware_parse_time("2027-06-05", 0, &t), 0);
	assert_int_equal(t, 1812153600);
	assert_int_equal(firmware_parse_time("2027-06-05T10:00:00Z", 0, &t), 0);
	assert_int_equal(t, 1812189600);
	assert_int_equal(firmware_parse_time("+5", 0, &t), -1);
	assert_int_equal(firmware_parse_time("+5w", 0, &t), -1);
	assert_int_equal(firmware_parse_time("+-5m", 0, &t), -1);
	assert_int_equal(firmware_parse_time("2027-02-30", 0, &t), -1);
	assert_int_equal(firmware_parse_time("tomorrow", 0, &t), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rates),
		cmocka_unit_test(percents),
		cmocka_unit_test(phases),
		cmocka_unit_test(times),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
