/* Snapshot topic parsing; contract in snapshot_topic.h. */
#include "common/snapshot_topic.h"
#include "common/ident_grammar.h"

#include <stdio.h>
#include <string.h>

int snapshot_topic_level_valid(const char *s, size_t len)
{
	return ident_valid(s, len);
}

int snapshot_topic_parse(const char *topic, snapshot_topic *out, char *err, size_t errlen)
{
	char *dst[3] = { out->master, out->account, out->equipment };
	static const char *const what[3] = { "master account", "account", "equipment" };
	const char *p = topic, *slash;
	size_t len;
	int i;

	memset(out, 0, sizeof *out);
	for (i = 0; i < 3; i++) {
		slash = strchr(p, '/');
		if (slash == NULL) {
			snprintf(err, errlen, "topic has %d level%s, want <master>/<account>/<equipment>/snapshots",
			         i + 1, i == 0 ? "" : "s");
			return -1;
		}
		len = (size_t)(slash - p);
		if (!snapshot_topic_level_valid(p, len)) {
			snprintf(err, errlen, "topic level %d (%s) is not an identifier (" IDENT_GRAMMAR_TEXT ")",
			         i + 1, what[i]);
			return -1;
		}
		memcpy(dst[i], p, len);
		dst[i][len] = '\0';
		p = slash + 1;
	}
	if (strcmp(p, "snapshots") != 0) {
		snprintf(err, errlen, "topic does not end in /snapshots after three levels");
		return -1;
	}
	return 0;
}
