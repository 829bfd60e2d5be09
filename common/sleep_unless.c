/* Interruptible sleep; contract in sleep_unless.h. */
#include "common/sleep_unless.h"

#include <time.h>

int sleep_unless(const atomic_int *stop, long ms)
{
	struct timespec step = { 0, 50 * 1000000L };

	while (ms > 0) {
		if (atomic_load(stop))
			return 1;
		nanosleep(&step, NULL);
		ms -= 50;
	}
	return atomic_load(stop) != 0;
}
