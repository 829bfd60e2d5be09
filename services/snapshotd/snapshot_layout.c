/* Channel layouts on the client side; contract in snapshot_layout.h. */
#include "services/snapshotd/snapshot_layout.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

static int digest_field(EVP_MD_CTX *md, const char *s)
{
	return EVP_DigestUpdate(md, s, strlen(s)) == 1 && EVP_DigestUpdate(md, "\n", 1) == 1;
}

int snapshot_layout_digest(const snapshot *snap, unsigned char out[LAYOUT_DIGEST_LEN])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int len = 0;
	int ok;
	size_t i;

	ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
	for (i = 0; ok && i < snap->n_values; i++) {
		const snapshot_value *v = &snap->values[i];

		ok = digest_field(md, v->group) && digest_field(md, v->channel) && digest_field(md, v->unit);
	}
	ok = ok && EVP_DigestFinal_ex(md, out, &len) == 1 && len == LAYOUT_DIGEST_LEN;
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}

struct layout_entry {
	char *device_type;
	unsigned char digest[LAYOUT_DIGEST_LEN];
};

struct layout_set {
	struct layout_entry *e;
	size_t max, n, next;   /* next: the slot a full set overwrites */
};

layout_set *layout_set_new(size_t max)
{
	layout_set *set = calloc(1, sizeof *set);

	if (set == NULL)
		return NULL;
	set->max = max > 0 ? max : 1;
	set->e = calloc(set->max, sizeof *set->e);
	if (set->e == NULL) {
		free(set);
		return NULL;
	}
	return set;
}

void layout_set_clear(layout_set *set)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		free(set->e[i].device_type);
	set->n = 0;
	set->next = 0;
}

void layout_set_free(layout_set *set)
{
	if (set == NULL)
		return;
	layout_set_clear(set);
	free(set->e);
	free(set);
}

int layout_set_has(const layout_set *set, const char *device_type, const unsigned char digest[LAYOUT_DIGEST_LEN])
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (memcmp(set->e[i].digest, digest, LAYOUT_DIGEST_LEN) == 0 &&
		    strcmp(set->e[i].device_type, device_type) == 0)
			return 1;
	return 0;
}

int layout_set_add(layout_set *set, const char *device_type, const unsigned char digest[LAYOUT_DIGEST_LEN])
{
	char *type;
	struct layout_entry *slot;

	if (layout_set_has(set, device_type, digest))
		return 0;
	if ((type = strdup(device_type)) == NULL)
		return -1;
	if (set->n < set->max) {
		slot = &set->e[set->n++];
	} else {
		slot = &set->e[set->next];
		set->next = (set->next + 1) % set->max;
		free(slot->device_type);
	}
	slot->device_type = type;
	memcpy(slot->digest, digest, LAYOUT_DIGEST_LEN);
	return 0;
}
