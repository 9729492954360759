/*
 * memchr_pass - the machine's limit for a line scan, for tests/bench/dq_bench:
 * FILE read with read(2) into one 1 MiB buffer and every '\n' found with
 * memchr(3), on one thread.  Nothing else is done with the bytes.
 *
 *   memchr_pass FILE
 *
 * Prints one line, "<newlines> <bytes>", and exits 0; 2 with a message on
 * stderr when FILE cannot be read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUF (1u << 20)

int main(int argc, char **argv)
{
	unsigned long long lines = 0, bytes = 0;
	char *buf;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: memchr_pass FILE\n");
		return 2;
	}
	if ((fd = open(argv[1], O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "memchr_pass: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	if (!(buf = malloc(BUF))) {
		fprintf(stderr, "memchr_pass: out of memory\n");
		close(fd);
		return 2;
	}
	for (;;) {
		ssize_t got = read(fd, buf, BUF);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			fprintf(stderr, "memchr_pass: %s: %s\n", argv[1], strerror(errno));
			free(buf);
			close(fd);
			return 2;
		}
		if (got == 0)
			break;
		bytes += (unsigned long long)got;
		for (const char *p = buf, *end = buf + got;
		     (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
			lines++;
	}
	printf("%llu %llu\n", lines, bytes);
	free(buf);
	close(fd);
	return 0;
}
