/*
 * Prints a TCP port on 127.0.0.1 that is free right now: the kernel picks it
 * when we bind to port 0. The harness passes it to the server it starts; the
 * small race until that server binds is acceptable for tests.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0) {
		perror("free_port: socket");
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
		perror("free_port: bind");
		close(fd);
		return 1;
	}
	printf("%u\n", (unsigned)ntohs(sa.sin_port));
	close(fd);
	return 0;
}
