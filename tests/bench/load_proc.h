/*
 * load_proc: what the load benchmark reads about another process from
 * /proc (Linux): its resident memory and the CPU time it has used. Readings
 * of a process that is gone are -1.
 */
#ifndef SMS_LOAD_PROC_H
#define SMS_LOAD_PROC_H

#include <sys/types.h>

/* Resident set (VmRSS of /proc/PID/status) in KiB, or -1. */
long load_proc_rss_kib(pid_t pid);
/* User + system CPU seconds (/proc/PID/stat fields 14 and 15), or -1. */
double load_proc_cpu_seconds(pid_t pid);

#endif
