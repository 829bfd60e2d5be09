/*
 * write(2) until every byte is out: retries EINTR and short writes, which
 * a durable file (outbox entry, stored CRL, metrics file) must never be
 * left with. Returns 0, or -1 with errno from the failing write (0 bytes
 * written on a regular file counts as failure, errno left as it was).
 */
#ifndef SMS_WRITE_ALL_H
#define SMS_WRITE_ALL_H

#include <stddef.h>

int write_all(int fd, const void *buf, size_t n);

#endif
