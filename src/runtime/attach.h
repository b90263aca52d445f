// The monitor's attach socket (<state dir>/attach): attached clients receive the container's
// stdout/stderr and feed its stdin. Frames both ways: 1 byte stream (0 stdin, 1 stdout,
// 2 stderr, 3 exit), 4 bytes big-endian length, payload (see Runtime::ConnectAttach).
// Internal to the runtime; single-threaded (the monitor's poll loop drives it).
#pragma once

#include <poll.h>

#include <memory>
#include <string>
#include <vector>

#include "util/status.h"

namespace sampan::runtime {

enum AttachStream : unsigned char {
  kAttachStdin = 0,
  kAttachStdout = 1,
  kAttachStderr = 2,
  kAttachExit = 3,
  kAttachResize = 4,  // client → monitor, terminal only: columns and rows, 2 bytes BE each
};

// "<stream><len:4 BE><payload>".
std::string AttachFrame(unsigned char stream, std::string_view payload);

// An AF_UNIX path that stays short whatever the directory's length: "/proc/self/fd/N/<name>"
// through an O_PATH descriptor of `dir` (kept in `dir_fd`, which the caller closes after
// bind/connect).
Result<std::string> ShortSocketPath(const std::string& dir, const std::string& name, int* dir_fd);

class AttachServer {
 public:
  // Listens on <dir>/attach. `stdin_fd` is the write end of the container's stdin pipe, or a
  // descriptor of its terminal's master (owned from now on). `terminal_fd` (borrowed; -1
  // without a terminal) is the pty master that resize frames apply to.
  static Result<std::unique_ptr<AttachServer>> Listen(const std::string& dir, int stdin_fd,
                                                      int terminal_fd = -1);
  ~AttachServer();

  // Appends the descriptors to poll to `fds`; Handle then reads their revents from `first`.
  void AddPollFds(std::vector<pollfd>& fds);
  void Handle(const std::vector<pollfd>& fds, size_t first);
  // Container output for every client.
  void Output(unsigned char stream, const char* data, size_t n);
  // The container exited: an exit frame to every client, their buffers flushed (for up to
  // a second), then everything closed and the socket file removed.
  void Finish(int exit_code);

 private:
  struct Client {
    int fd = -1;
    std::string in, out;  // bytes received (partial frames), bytes to send
  };
  AttachServer() = default;
  void Accept();
  void ReadClient(Client& c);
  void WriteClient(Client& c);
  void FlushStdin();
  void CloseStdin();
  void DropClosed();

  int listen_fd_ = -1;
  std::string path_;
  int stdin_fd_ = -1;
  int terminal_fd_ = -1;  // own duplicate of the pty master (resize), -1 without a terminal
  std::string stdin_pending_;
  bool stdin_close_requested_ = false;
  std::vector<Client> clients_;
  // What AddPollFds registered, in order: -1 listen, -2 stdin, else client index.
  std::vector<int> polled_;
};

}  // namespace sampan::runtime
