/* Unit tests: SQLSTATE classes of common/pg_session (what the daemon does
 * with a database error) and the privilege lists of common/db_privileges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/db_privileges.h"
#include "common/pg_session.h"

static void assert_class(const char *const *states, size_t n, pg_class want)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (pg_classify_sqlstate(states[i]) != want)
			fail_msg("SQLSTATE %s: class %s, want %s", states[i] ? states[i] : "(null)",
			         pg_class_name(pg_classify_sqlstate(states[i])), pg_class_name(want));
	}
}

/* Nothing happened and the database may answer later. */
static void transient_states(void **state)
{
	static const char *const s[] = {
		NULL, "", "08", "08006", "08001", "08P01", "57P01", "57P02", "57P03", "53100", "53200", "53300",
		"40001", "40P01", "55P03", "58030", "25006", "26000",
	};

	(void)state;
	assert_class(s, sizeof s / sizeof *s, PG_TRANSIENT);
}

/* The deployment is wrong: never dead-letter a message for it (issue 9, 1 and 3). */
static void setup_states(void **state)
{
	static const char *const s[] = {
		"42501", "42P01", "42883", "42704", "42703", "42601", "3F000", "3D000", "28000", "28P01",
		"0A000", "57P04", "55000",
	};

	(void)state;
	assert_class(s, sizeof s / sizeof *s, PG_SETUP);
}

/* This message's data was refused: a dead letter. */
static void data_states(void **state)
{
	static const char *const s[] = {
		"22001", "22003", "22P02", "22021", "23502", "23503", "23505", "23514", "P0001", "SMS01", "SMS02",
		"XX000",
	};

	(void)state;
	assert_class(s, sizeof s / sizeof *s, PG_DATA);
	assert_int_equal(pg_classify_sqlstate("00000"), PG_OK);
}

static void check_spec(const db_role_spec *r)
{
	static const char *const privs[] = { "SELECT", "INSERT", "UPDATE", "DELETE", "EXECUTE" };
	size_t i, j, k;

	assert_true(r->n_needs > 0);
	for (i = 0; i < r->n_needs; i++) {
		const pg_need *n = &r->needs[i];
		for (k = 0; k < sizeof privs / sizeof *privs && strcmp(privs[k], n->privilege) != 0; k++)
			;
		if (k == sizeof privs / sizeof *privs)
			fail_msg("%s: unknown privilege %s", r->role, n->privilege);
		if ((strcmp(n->privilege, "EXECUTE") == 0) != (strchr(n->object, '(') != NULL))
			fail_msg("%s: EXECUTE goes with a function signature: %s %s", r->role, n->privilege, n->object);
		for (j = 0; j < i; j++)
			if (strcmp(r->needs[j].privilege, n->privilege) == 0 && strcmp(r->needs[j].object, n->object) == 0 &&
			    (r->needs[j].column == NULL) == (n->column == NULL) &&
			    (n->column == NULL || strcmp(r->needs[j].column, n->column) == 0))
				fail_msg("%s: %s on %s listed twice", r->role, n->privilege, n->object);
	}
}

/* The lists `sms-db roles` grants from are well-formed and have no repeats. */
static void privilege_lists(void **state)
{
	(void)state;
	check_spec(&db_role_snapshotd);
	check_spec(&db_role_admin);
	check_spec(&db_role_reader);
	check_spec(&db_role_firmware);
	check_spec(&db_role_publisherd);
	assert_string_equal(db_role_snapshotd.role, "sms_snapshotd");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(transient_states),
		cmocka_unit_test(setup_states),
		cmocka_unit_test(data_states),
		cmocka_unit_test(privilege_lists),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
