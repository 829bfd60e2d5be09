/*
 * sms-agent's firmware updates (docs/firmware.md, the device side).
 *
 * An offer on <ma>/<acc>/<eq>/firmware (AuthEnvelopedData from
 * vendor-firmware-service, common/fw_offer) is checked against the stored
 * versions (agent_firmware_state.h): another rollout of the same package
 * with a version <= installed or < the highest seen is refused (replay,
 * downgrade). An accepted offer subscribes sms/firmware/<release>/manifest;
 * the manifest (SignedData by vendor-firmware-signer, common/fw_manifest)
 * must name this device type, a version above the installed one and not
 * below the highest seen, no expiry passed, dependencies that are installed (firmware.versions or the state),
 * a size within firmware.max_image. Then the pieces are fetched through a
 * window of firmware.window subscriptions to sms/firmware/<release>/<n>,
 * each checked against the manifest and kept on disk (agent_firmware_image.h)
 * before it is acknowledged, so a restart or reconnect fetches only what is
 * missing. After the last piece the image is decrypted and checked into a
 * staging file, installed into the inactive slot (agent_firmware_slots.h),
 * current switched, the health check run, and the install committed or
 * rolled back. Every step is reported, signed by the device, on
 * <ma>/<acc>/<eq>/firmware/status (common/fw_status) with RFC 4108 codes.
 *
 * Crash consistency (state saved before each step, agent_firmware_state.h):
 * killed while downloading, the pieces on disk are kept and the missing
 * ones fetched; while decrypting or installing (phase installing), current
 * still names the old slot and the install is redone from the staged (or
 * again decrypted) image; after the switch (phase switched), current is
 * made to name the new slot and the health check decides.
 *
 * Threads: on_message and on_connected run in the session thread (they
 * only check, store pieces and subscribe); agent_firmware_tick runs the
 * long work (decryption, hooks) in the supervising thread. One lock.
 */
#ifndef SMS_AGENT_FIRMWARE_H
#define SMS_AGENT_FIRMWARE_H

#include <stddef.h>

#include <mosquitto.h>
#include <openssl/x509.h>

#include "cms/smscms.h"
#include "common/identity.h"
#include "common/mqtt_session.h"
#include "services/agent/agent_config.h"

typedef struct agent_firmware agent_firmware;

/* cfg->fw.dir must be set. device: the agent's E2E identity (borrowed; it
 * decrypts offers and signs reports). NULL with err. */
agent_firmware *agent_firmware_open(const agent_config *cfg, const identity *self, const smscms_identity *device,
                                    char *err, size_t errlen);
void agent_firmware_close(agent_firmware *fw);

/* The offer topic, to subscribe with the session's fixed subscriptions. */
const char *agent_firmware_offer_topic(const agent_firmware *fw);
/* The session it publishes and subscribes through (before it connects). */
void agent_firmware_attach(agent_firmware *fw, mqtt_session *s);
/* The E2E CRLs (verified by the caller) for manifests and offers. 0, or -1 with err. */
int agent_firmware_set_crls(agent_firmware *fw, const STACK_OF(X509_CRL) *crls, char *err, size_t errlen);

/* Whether msg is for the firmware (its offer topic, sms/firmware/...). */
int agent_firmware_wants(const agent_firmware *fw, const char *topic);
void agent_firmware_on_message(agent_firmware *fw, const struct mosquitto_message *msg);
void agent_firmware_on_connected(agent_firmware *fw);
/* The long work that is due; supervising thread. */
void agent_firmware_tick(agent_firmware *fw);

/* For the metrics file (agent_metrics.h). */
typedef struct {
	int phase;                          /* fw_phase of the rollout in progress (0: none) */
	unsigned int pieces_held, pieces;   /* of the rollout in progress */
	unsigned long long succeeded, failed, rejected;   /* reports sent since start */
} agent_firmware_stats;
void agent_firmware_get_stats(agent_firmware *fw, agent_firmware_stats *out);

#endif
