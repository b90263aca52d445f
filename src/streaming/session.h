// Internal to src/streaming: the poll loop that drives one upgraded connection, and
// the handlers of the kubelet server's endpoints (each runs on the connection's thread).
#pragma once

#include <poll.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "streaming/backend.h"
#include "streaming/conn.h"

namespace sampan::streaming {

struct Watch {
  int fd;
  short events;
  std::function<void(short revents)> on;
};

// A connection after its upgrade: reacts to client bytes and to the watched fds.
class Session {
 public:
  explicit Session(Conn& conn) : conn_(conn) {}
  virtual ~Session() = default;
  // Loops until done; then, if the session ended gracefully, flushes and waits briefly
  // for the client to close first (so it reads everything we sent).
  void Run();

 protected:
  virtual void OnInput() = 0;       // new bytes in conn_.in
  virtual void OnClientGone() = 0;  // the connection hit EOF or an error
  virtual void Collect(std::vector<Watch>& watches) = 0;
  virtual void Tick() {}
  // False while the session holds too much client input it could not pass on yet.
  virtual bool WantInput() const { return true; }
  // Ends the loop; `graceful`: flush and linger before closing.
  void End(bool graceful) {
    done_ = true;
    graceful_ = graceful;
  }
  bool output_has_room() const { return conn_.queued() < (1 << 20); }

  Conn& conn_;

 private:
  bool done_ = false;
  bool graceful_ = false;
};

// Picks the first of `ours` (in our order of preference) that the client offered.
std::string Negotiate(const std::vector<std::string>& offered,
                      const std::vector<std::string>& ours);
bool IsWebSocketUpgrade(const HttpRequest& req);
bool IsSpdyUpgrade(const HttpRequest& req);
// The 101 reply for a WebSocket handshake choosing `protocol` ("" = none).
std::string WebSocketAccept(const HttpRequest& req, const std::string& protocol);
std::string SpdyAccept(const std::string& protocol);
void SetNonBlocking(int fd);

void ServeRemoteCommand(Conn& conn, const HttpRequest& req, Backend& backend, bool attach,
                        const ContainerRef& ref);
void ServePortForward(Conn& conn, const HttpRequest& req, Backend& backend, const std::string& ns,
                      const std::string& pod);
void ServeLogs(Conn& conn, const HttpRequest& req, Backend& backend, const ContainerRef& ref);

}  // namespace sampan::streaming
