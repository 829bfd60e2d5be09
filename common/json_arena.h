/*
 * cJSON trees allocated from one arena, released in one call.
 *
 * A 340-value snapshot parses into some 3,000 small allocations (a node per
 * member, a copy of each string). Allocating and freeing them one by one
 * cost about as much as the parse itself in sms-snapshotd, and their frees
 * made glibc consolidate its fast bins on the next large allocation. Here
 * the tree lives in a few blocks the arena owns.
 *
 * cJSON takes its allocator from process-wide hooks. json_arena_install
 * sets hooks that serve the calling thread's arena while json_arena_parse
 * runs on that thread and are plain malloc/free otherwise, so every other
 * cJSON use in the process is unchanged. Call it once, before any other
 * thread uses cJSON (cJSON_InitHooks is not thread-safe); without it,
 * json_arena_parse is cJSON_ParseWithLengthOpts and *arena is NULL.
 *
 * A tree with an arena is read-only: never cJSON_Delete it or add to it.
 * json_arena_release frees either kind of tree json_arena_parse returns.
 */
#ifndef SMS_JSON_ARENA_H
#define SMS_JSON_ARENA_H

#include <stddef.h>
#include <cJSON.h>

typedef struct json_arena json_arena;

void json_arena_install(void);

/* As cJSON_ParseWithLengthOpts(json, len, end, 0). On success *arena owns
 * the tree (NULL when the hooks are not installed or memory was short);
 * on failure NULL is returned and *arena is NULL. */
cJSON *json_arena_parse(const char *json, size_t len, const char **end, json_arena **arena);

/* Releases a tree json_arena_parse returned, with its arena (or with
 * cJSON_Delete when arena is NULL). */
void json_arena_release(cJSON *tree, json_arena *arena);

#endif
