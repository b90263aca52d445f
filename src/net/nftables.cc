#include "net/nftables.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sampan::net {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A comment naming the pod; only characters that need no escaping in nft's syntax.
std::string CommentText(const std::string& uid) {
  std::string out = "pod ";
  for (char c : uid)
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
            c == '/')
               ? c
               : '_';
  return out.substr(0, 120);
}

std::string L4(const HostPortRule& r, const char* port_field, int port) {
  return "meta l4proto " + Lower(r.protocol) + " th " + port_field + " " + std::to_string(port);
}

}  // namespace

std::string RenderNatScript(const NatRules& rules) {
  const std::string pod = rules.pod_cidr.ToString();
  const std::string cluster = rules.cluster_cidr.ToString();
  std::string s;
  // Create-if-absent, delete, re-create: one transaction that swaps the whole table.
  s += std::string("table ip ") + kNftTable + "\n";
  s += std::string("delete table ip ") + kNftTable + "\n";
  s += std::string("table ip ") + kNftTable + " {\n";
  s += "\tchain prerouting {\n"
       "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
       "\t\tfib daddr type local jump hostports\n"
       "\t}\n";
  s += "\tchain output {\n"
       "\t\ttype nat hook output priority -100; policy accept;\n"
       "\t\tfib daddr type local jump hostports\n"
       "\t}\n";
  s += "\tchain hostports {\n";
  for (const HostPortRule& r : rules.host_ports) {
    s += "\t\t";
    if (r.host_ip) s += "ip daddr " + FormatIpv4(r.host_ip) + " ";
    s += L4(r, "dport", r.host_port) + " dnat to " + FormatIpv4(r.pod_ip) + ":" +
         std::to_string(r.container_port) + " comment \"" + CommentText(r.pod_uid) + "\"\n";
  }
  s += "\t}\n";
  s += "\tchain postrouting {\n"
       "\t\ttype nat hook postrouting priority srcnat; policy accept;\n";
  // A node-local client of a hostPort on 127.0.0.1: the pod cannot answer 127.0.0.1.
  s += "\t\tip saddr 127.0.0.0/8 ct status dnat masquerade\n";
  // A pod reaching a hostPort that lands on a pod of this bridge (itself included): without
  // the masquerade the answer would go straight back over the bridge, bypassing the DNAT.
  for (const HostPortRule& r : rules.host_ports) {
    s += "\t\tip saddr " + pod + " ip daddr " + FormatIpv4(r.pod_ip) + " " +
         L4(r, "dport", r.container_port) + " ct status dnat masquerade\n";
  }
  if (rules.masquerade) {
    // Pods talking to each other keep their addresses (no NAT between pods); traffic that
    // leaves the cluster range takes the node's address. Multicast is left alone.
    s += "\t\tip saddr " + cluster + " ip daddr " + cluster + " return\n";
    s += "\t\tip saddr " + cluster + " ip daddr != 224.0.0.0/4 masquerade fully-random\n";
  }
  s += "\t}\n";
  s += "}\n";
  return s;
}

std::string RenderDeleteScript() {
  return std::string("table ip ") + kNftTable + "\ndelete table ip " + kNftTable + "\n";
}

Status RunNftScript(const std::string& script) {
  const char* nft = nullptr;
  for (const char* p : {"/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft", "/usr/local/sbin/nft"}) {
    if (::access(p, X_OK) == 0) {
      nft = p;
      break;
    }
  }
  if (!nft) return Unavailable("nft not found (install the nftables package)");

  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return ErrnoStatus("pipe", errno);
  if (::pipe2(out, O_CLOEXEC) != 0) {
    int e = errno;
    ::close(in[0]);
    ::close(in[1]);
    return ErrnoStatus("pipe", e);
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, out[1], 2);
  char arg0[] = "nft", arg1[] = "-f", arg2[] = "-";
  char* argv[] = {arg0, arg1, arg2, nullptr};
  char env0[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
  char* envp[] = {env0, nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, nft, &fa, nullptr, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  ::close(in[0]);
  ::close(out[1]);
  if (rc != 0) {
    ::close(in[1]);
    ::close(out[0]);
    return ErrnoStatus("spawn nft", rc);
  }
  // The script is small (well under a pipe buffer per write); write it all, then read.
  // nft reads all of stdin before it prints anything, so this order cannot deadlock.
  size_t off = 0;
  Status write_status;
  while (off < script.size()) {
    ssize_t n = ::write(in[1], script.data() + off, script.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      write_status = ErrnoStatus("write to nft", errno);
      break;
    }
    off += n;
  }
  ::close(in[1]);
  std::string output;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    output.append(buf, n);
  }
  ::close(out[0]);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    while (!output.empty() && output.back() == '\n') output.pop_back();
    return Internal("nft -f failed (" +
                    (WIFEXITED(wstatus) ? "exit " + std::to_string(WEXITSTATUS(wstatus))
                                        : std::string("killed")) +
                    "): " + output);
  }
  return write_status;
}

}  // namespace sampan::net
