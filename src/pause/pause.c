/* sampan-pause: the infra process of a pod sandbox.
 *
 * It holds the pod's network, UTS and IPC (and, with shareProcessNamespace, PID)
 * namespaces open for the app containers that join them. It does nothing else: it sleeps
 * until a signal comes, reaps any zombie re-parented to it (it is PID 1 when the pod shares
 * one PID namespace), and exits cleanly on SIGINT/SIGTERM. Static, no libc features
 * beyond signals and wait, so it runs in a rootfs holding only itself. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop_signal = 0;

static void on_stop(int signo) { stop_signal = signo; }

static void on_child(int signo) {
  (void)signo;
  int saved = errno;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
  errno = saved;
}

int main(int argc, char **argv) {
  if (argc > 1 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0)) {
    printf("sampan-pause 0.1\n");
    return 0;
  }
  if (getpid() != 1) {
    fprintf(stderr, "sampan-pause: warning: not running as PID 1\n");
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = on_stop;
  if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0) return 1;
  sa.sa_handler = on_child;
  sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
  if (sigaction(SIGCHLD, &sa, NULL) < 0) return 2;

  while (!stop_signal) pause();
  fprintf(stderr, "sampan-pause: shutting down, got signal %d\n", (int)stop_signal);
  return 0;
}
