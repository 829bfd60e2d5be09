/*
 * `sms-audit run`: the customer's MQTT 5 session (common/mqtt_session.h:
 * TLS with the account or master-account certificate, persistent session,
 * QoS 1) on "<scope>/#", every channel of the customer's own subtree (the
 * broker plugin lets the identity read nothing else). Each message is
 * analysed and committed to the store inside on_message, so libmosquitto
 * writes the PUBACK only after the commit (DESIGN.md "Reliability rules");
 * a store that cannot take it holds the message unacknowledged
 * (mqtt_session_hold) and the broker redelivers it.
 *
 * The E2E CRL files are looked at every e2e.crl_check_interval seconds
 * and re-read at once on SIGHUP, by the supervising (main) thread, whether
 * or not messages arrive; a lock keeps the reload and on_message's
 * analysis apart. Runs until SIGTERM/SIGINT. 0, or 1 after one line on
 * the log.
 */
#ifndef SMS_AUDIT_INTAKE_H
#define SMS_AUDIT_INTAKE_H

#include "services/audit/audit_config.h"

int audit_intake_run(const audit_config *cfg);

#endif
