/*
 * bench_httpd - a minimal static file server for benchmarks: GET only, one
 * thread per connection, the body sent with sendfile(2) so the server costs
 * next to nothing and the client under test is what gets measured
 * (Python's http.server tops out far below 1 GB/s on loopback).
 *
 *   bench_httpd ROOT [PORT]     prints the port on its first line
 *
 * Not a test server: no Range, no conditionals, no keep-alive; httpd.py is
 * the one that misbehaves on request.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *root;

static void reply_status(int c, const char *status)
{
	char h[256];
	int n = snprintf(h, sizeof h, "HTTP/1.1 %s\r\nContent-Length: 0\r\n"
	                 "Connection: close\r\n\r\n", status);
	if (write(c, h, (size_t)n) < 0)
		return;
}

static void *serve(void *arg)
{
	int c = (int)(intptr_t)arg, fd = -1;
	char req[4096], path[PATH_MAX], h[256], *sp, *end;
	size_t len = 0;
	struct stat st;

	while (len < sizeof req - 1 && !strstr(req, "\r\n\r\n")) {
		ssize_t r = read(c, req + len, sizeof req - 1 - len);
		if (r <= 0)
			goto out;
		len += (size_t)r;
		req[len] = '\0';
	}
	if (strncmp(req, "GET /", 5) != 0 || !(sp = strchr(req + 4, ' '))) {
		reply_status(c, "400 Bad Request");
		goto out;
	}
	*sp = '\0';
	if ((end = strchr(req + 4, '?')))
		*end = '\0';
	if (strstr(req + 4, "..") ||
	    snprintf(path, sizeof path, "%s%s", root, req + 4) >= (int)sizeof path ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
		reply_status(c, "404 Not Found");
		goto out;
	}
	int n = snprintf(h, sizeof h, "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\n"
	                 "Connection: close\r\n\r\n", (long long)st.st_size);
	if (write(c, h, (size_t)n) != n)
		goto out;
	for (off_t off = 0; off < st.st_size;) {
		ssize_t w = sendfile(c, fd, &off, (size_t)(st.st_size - off));
		if (w <= 0 && errno != EINTR)
			break;
	}
out:
	if (fd >= 0)
		close(fd);
	close(c);
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof a;
	int s, one = 1;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_httpd ROOT [PORT]\n");
		return 2;
	}
	root = argv[1];
	a.sin_port = htons(argc > 2 ? (uint16_t)atoi(argv[2]) : 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 64) < 0 ||
	    getsockname(s, (struct sockaddr *)&a, &al) < 0) {
		perror("bench_httpd");
		return 1;
	}
	printf("%d\n", ntohs(a.sin_port));
	fflush(stdout);
	for (;;) {
		pthread_t t;
		int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		if (pthread_create(&t, NULL, serve, (void *)(intptr_t)c) != 0) {
			close(c);
			continue;
		}
		pthread_detach(t);
	}
}
