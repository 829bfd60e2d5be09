/* cJSON trees in an arena; contract in json_arena.h. */
#include "common/json_arena.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define FIRST_BLOCK (64 * 1024)
#define ALIGN alignof(max_align_t)

struct block {
	struct block *prev;
	size_t size;                      /* bytes of data */
	alignas(max_align_t) unsigned char data[];
};

struct json_arena {
	struct block *last;
	size_t used;                      /* of last->data */
};

/* The arena json_arena_parse is filling on this thread, if any. */
static _Thread_local json_arena *filling;
static int installed;

static int owns(const json_arena *a, const void *p)
{
	const struct block *b;

	for (b = a->last; b != NULL; b = b->prev)
		if ((uintptr_t)p >= (uintptr_t)b->data && (uintptr_t)p < (uintptr_t)b->data + b->size)
			return 1;
	return 0;
}

static void *arena_alloc(json_arena *a, size_t n)
{
	struct block *b;
	size_t size;
	void *p;

	if (n > SIZE_MAX / 2 - ALIGN)
		return NULL;
	n = (n + ALIGN - 1) & ~(ALIGN - 1);
	if (a->last == NULL || a->last->size - a->used < n) {
		size = a->last != NULL ? a->last->size * 2 : FIRST_BLOCK;
		while (size < n)
			size *= 2;
		if ((b = malloc(sizeof(*b) + size)) == NULL)
			return NULL;
		b->prev = a->last;
		b->size = size;
		a->last = b;
		a->used = 0;
	}
	p = a->last->data + a->used;
	a->used += n;
	return p;
}

static void *hook_malloc(size_t n)
{
	return filling != NULL ? arena_alloc(filling, n) : malloc(n);
}

/* cJSON frees what it allocated only when a parse fails part way, on the
 * parsing thread; that memory goes with the arena. */
static void hook_free(void *p)
{
	if (filling != NULL && owns(filling, p))
		return;
	free(p);
}

void json_arena_install(void)
{
	cJSON_Hooks hooks = { hook_malloc, hook_free };

	cJSON_InitHooks(&hooks);
	installed = 1;
}

static void arena_free(json_arena *a)
{
	struct block *b, *prev;

	if (a == NULL)
		return;
	for (b = a->last; b != NULL; b = prev) {
		prev = b->prev;
		free(b);
	}
	free(a);
}

cJSON *json_arena_parse(const char *json, size_t len, const char **end, json_arena **arena)
{
	json_arena *a;
	cJSON *tree;

	*arena = NULL;
	if (!installed || (a = calloc(1, sizeof(*a))) == NULL)
		return cJSON_ParseWithLengthOpts(json, len, end, 0);
	filling = a;
	tree = cJSON_ParseWithLengthOpts(json, len, end, 0);
	filling = NULL;
	if (tree == NULL) {
		arena_free(a);
		return NULL;
	}
	*arena = a;
	return tree;
}

void json_arena_release(cJSON *tree, json_arena *arena)
{
	if (arena != NULL)
		arena_free(arena);
	else
		cJSON_Delete(tree);
}
