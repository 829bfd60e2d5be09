/* The tree's version; contract in version.h. */
#include "common/version.h"

#ifndef SMS_VERSION
#error "SMS_VERSION comes from the VERSION file through the Makefile"
#endif

const char *sms_version(void)
{
	return SMS_VERSION;
}

void sms_print_version(FILE *f, const char *prog)
{
	fprintf(f, "%s (sms) %s\n", prog, SMS_VERSION);
}
