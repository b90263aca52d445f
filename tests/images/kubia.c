/* kubia: the "Kubernetes in Action" demo app, as a tiny static HTTP server.
 * Answers every request with "You've hit <hostname>\n" and logs "Received request from
 * <address>" to stdout. Listens on $PORT (default 8080). Exits 0 on SIGTERM/SIGINT. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static void serve(int c, const char* peer) {
  struct timeval tv = {5, 0};
  setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char req[8192];
  size_t got = 0;
  /* Read until the end of the request head (bodies are ignored). */
  while (got < sizeof req - 1) {
    ssize_t n = read(c, req + got, sizeof req - 1 - got);
    if (n <= 0) break;
    got += (size_t)n;
    req[got] = 0;
    if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n")) break;
  }
  printf("Received request from %s\n", peer);
  fflush(stdout);
  char host[256] = "unknown";
  gethostname(host, sizeof host - 1);
  char body[320];
  int blen = snprintf(body, sizeof body, "You've hit %s\n", host);
  char resp[512];
  int is_head = strncmp(req, "HEAD ", 5) == 0;
  int rlen = snprintf(resp, sizeof resp,
                      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                      "Connection: close\r\n\r\n%s",
                      blen, is_head ? "" : body);
  for (int off = 0; off < rlen;) {
    ssize_t n = write(c, resp + off, (size_t)(rlen - off));
    if (n <= 0) break;
    off += (int)n;
  }
  shutdown(c, SHUT_WR);
  close(c);
}

int main(void) {
  const char* port_env = getenv("PORT");
  int port = port_env ? atoi(port_env) : 8080;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; /* no SA_RESTART: accept() returns EINTR */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  int s = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int v6only = 0, one = 1;
  if (s >= 0) setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in6 a6;
  memset(&a6, 0, sizeof a6);
  a6.sin6_family = AF_INET6;
  a6.sin6_port = htons((unsigned short)port);
  a6.sin6_addr = in6addr_any;
  if (s < 0 || bind(s, (struct sockaddr*)&a6, sizeof a6) != 0) {
    /* No IPv6 in this network namespace: plain IPv4. */
    if (s >= 0) close(s);
    s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a4;
    memset(&a4, 0, sizeof a4);
    a4.sin_family = AF_INET;
    a4.sin_port = htons((unsigned short)port);
    a4.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(s, (struct sockaddr*)&a4, sizeof a4) != 0) {
      perror("kubia: bind");
      return 1;
    }
  }
  if (listen(s, 128) != 0) {
    perror("kubia: listen");
    return 1;
  }
  printf("Kubia server starting on port %d...\n", port);
  fflush(stdout);
  while (!stop) {
    struct sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    int c = accept4(s, (struct sockaddr*)&peer, &plen, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR) continue;
      perror("kubia: accept");
      continue;
    }
    char addr[INET6_ADDRSTRLEN] = "?";
    if (peer.ss_family == AF_INET6) {
      struct sockaddr_in6* p6 = (struct sockaddr_in6*)&peer;
      inet_ntop(AF_INET6, &p6->sin6_addr, addr, sizeof addr);
      if (strncmp(addr, "::ffff:", 7) == 0) memmove(addr, addr + 7, strlen(addr + 7) + 1);
    } else if (peer.ss_family == AF_INET) {
      inet_ntop(AF_INET, &((struct sockaddr_in*)&peer)->sin_addr, addr, sizeof addr);
    }
    serve(c, addr);
  }
  close(s);
  return 0;
}
