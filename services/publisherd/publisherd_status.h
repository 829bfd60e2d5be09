/*
 * Status reports from <ma>/<acc>/<eq>/firmware/status (MQTT loop thread).
 * A report counts only when fw_status_verify accepts it (device signature,
 * chain to the E2E root with the CRLs in use, signer = the topic's
 * equipment, strict schema) and the rollout it names targets that device
 * with the release it names. It then moves the device forward:
 *   queued/offered -> downloading -> verified -> installing ->
 *   succeeded | failed(code) | rejected(code)
 * A report for an earlier state than the stored one, or for a device that
 * finished (succeeded, failed, rejected, timed_out, aborted), changes
 * nothing; a repeated downloading report updates the progress only. Every
 * state change is one row of t_fw_transition (the schema's trigger). The
 * PUBACK leaves only after the database has it (mqtt_session_hold while the
 * database is away).
 */
#ifndef SMS_PUBLISHERD_STATUS_H
#define SMS_PUBLISHERD_STATUS_H

#include <mosquitto.h>

#include "services/publisherd/publisherd.h"

void publisherd_on_status(mqtt_session *s, void *ud, const struct mosquitto_message *msg);

#endif
