/*
 * bench_memtouch MIB: maps MIB MiB of anonymous memory, writes a byte to
 * every page, and gives it back; prints "touched=<MiB> seconds=<s>".
 *
 * Some virtual machines (Firecracker here) back guest memory on the host
 * only when the guest first touches it. Until every page was touched once,
 * a file write that grows the page cache into fresh memory runs an order
 * of magnitude slower (dd of 2 GB: 330 MB/s first, 4.6 GB/s again), so
 * WAL, table and broker persistence writes cost whatever the VM's history
 * left. tests/bench/run touches the memory once before measuring when
 * SMS_BENCH_TOUCH_MEMORY=1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long page = sysconf(_SC_PAGESIZE);
	struct timespec a, b;
	size_t mib, len, i;
	char *m;

	if (argc != 2 || (mib = strtoul(argv[1], NULL, 10)) == 0) {
		fputs("usage: bench_memtouch MIB\n", stderr);
		return 2;
	}
	len = mib << 20;
	clock_gettime(CLOCK_MONOTONIC, &a);
	if ((m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) == MAP_FAILED) {
		perror("bench_memtouch: mmap");
		return 1;
	}
	for (i = 0; i < len; i += (size_t)page)
		m[i] = 1;
	munmap(m, len);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("touched=%zu seconds=%.1f\n", mib, (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	return 0;
}
