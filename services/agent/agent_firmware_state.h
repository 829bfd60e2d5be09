/*
 * What the agent remembers about firmware, per package, across restarts
 * and power cuts: the installed version, the highest version seen in an
 * accepted manifest (replays and downgrades below it are refused), the
 * rollout in progress (its phase, which ciphertext pieces are on disk, the
 * slots of an install) and the outcome of the last finished rollout (so a
 * re-offer of it is answered again instead of redone).
 *
 * One JSON file per package, DIR/<package>.json, replaced atomically
 * (agent_firmware_fs.h): after kill -9 at any point the file is the state
 * before or after the save in progress. A file that does not parse is an
 * error, never silently reset (it would forget the highest version seen).
 */
#ifndef SMS_AGENT_FIRMWARE_STATE_H
#define SMS_AGENT_FIRMWARE_STATE_H

#include <stddef.h>

#include "common/fw_manifest.h"

#define FW_MAX_PIECES FW_MANIFEST_MAX_PIECES
#define FW_DETAIL_MAX 257

typedef enum {
	FW_PHASE_NONE = 0,      /* no rollout in progress */
	FW_PHASE_MANIFEST,      /* offer accepted, waiting for the manifest */
	FW_PHASE_DOWNLOADING,   /* manifest accepted, pieces arriving */
	FW_PHASE_INSTALLING,    /* image verified in staging; install hook into slot_to (current: slot_from) */
	FW_PHASE_SWITCHED,      /* current is (being) switched to slot_to; health check pending */
	FW_PHASE_COUNT
} fw_phase;

typedef struct {
	char package[FW_PACKAGE_MAX + 1];
	long long installed;             /* 0: never installed through the agent */
	long long highest_seen;          /* highest version of an accepted manifest */
	struct {
		fw_phase phase;
		long long id, version;
		char release[FW_RELEASE_MAX];
		unsigned int n_pieces;
		unsigned char have[FW_MAX_PIECES / 8];
		char slot_from, slot_to;  /* 'a' / 'b' from FW_PHASE_INSTALLING on */
	} rollout;
	struct {                         /* the last rollout that ended (id 0: none) */
		long long id;
		char release[FW_RELEASE_MAX];
		char state[16];          /* "succeeded", "failed", "rejected" */
		char code[32];
		int code_value;
		char detail[FW_DETAIL_MAX];
	} last;
} fw_state;

const char *fw_phase_name(fw_phase p);

/* Fills st for package: 0 (the stored state, or an empty one when none was
 * stored), or -1 with err. */
int fw_state_load(const char *dir, const char *package, fw_state *st, char *err, size_t errlen);
/* Durably replaces the stored state of st->package. 0, or -1 with err. */
int fw_state_save(const char *dir, const fw_state *st, char *err, size_t errlen);

/* The packages with a stored state (names into out, at most max); -1 with err. */
int fw_state_list(const char *dir, char (*out)[FW_PACKAGE_MAX + 1], size_t max, size_t *n, char *err,
                  size_t errlen);

/* Pieces bitmap. */
int fw_state_has_piece(const fw_state *st, unsigned int n);
void fw_state_set_piece(fw_state *st, unsigned int n);
unsigned int fw_state_pieces_held(const fw_state *st);

/* Clears the rollout in progress and records its outcome in last. */
void fw_state_finish(fw_state *st, const char *state, const char *code, int code_value, const char *detail);

#endif
