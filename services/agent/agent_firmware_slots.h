/*
 * The A/B slot pair a firmware image is installed into: DIR/a, DIR/b and
 * DIR/current, a symlink to "a" or "b". The running image is current's;
 * an install writes only the other (inactive) slot, and current is
 * switched by rename(2) of a new symlink over it, followed by an fsync of
 * DIR: after a power cut current names either slot, never neither.
 *
 * Hooks are programs run with the agent's environment and signals
 * unblocked, killed (SIGKILL) after timeout_s:
 *   install hook: HOOK IMAGE SLOTDIR  (exit 0: the slot holds the image);
 *     without a hook the image is copied to SLOTDIR/image (tmp, fsync, rename).
 *   health hook:  HOOK SLOTDIR        (exit 0: healthy); without one, healthy.
 * Every function returns 0, or -1 with err.
 */
#ifndef SMS_AGENT_FIRMWARE_SLOTS_H
#define SMS_AGENT_FIRMWARE_SLOTS_H

#include <stddef.h>

/* Creates what is missing: a, b, current -> a. */
int fw_slots_prepare(const char *dir, char *err, size_t errlen);
/* 'a' or 'b' (what current names), or 0 with err. */
char fw_slots_current(const char *dir, char *err, size_t errlen);
/* The slot that is not current's. */
char fw_slots_other(char slot);
/* current -> slot, atomically and durably. */
int fw_slots_switch(const char *dir, char slot, char *err, size_t errlen);
/* Writes image into the slot (hook or the default copy). */
int fw_slots_install(const char *dir, char slot, const char *image, const char *hook, int timeout_s, char *err,
                     size_t errlen);
/* Runs the health hook on the slot current names. */
int fw_slots_health(const char *dir, const char *hook, int timeout_s, char *err, size_t errlen);

/* Runs argv[0] with argv; 0 when it exited 0, else -1 with how it ended. */
int fw_hook_run(char *const argv[], int timeout_s, char *err, size_t errlen);

#endif
