#include "streaming/session.h"

#include <fcntl.h>

#include "streaming/websocket.h"

namespace sampan::streaming {

void SetNonBlocking(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

std::string Negotiate(const std::vector<std::string>& offered,
                      const std::vector<std::string>& ours) {
  for (const auto& o : ours)
    for (const auto& c : offered)
      if (c == o) return o;
  return "";
}

static std::string LowerCopy(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool IsWebSocketUpgrade(const HttpRequest& req) {
  return LowerCopy(req.Header("upgrade")) == "websocket";
}

bool IsSpdyUpgrade(const HttpRequest& req) {
  return LowerCopy(req.Header("upgrade")).rfind("spdy/3.1", 0) == 0;
}

std::string WebSocketAccept(const HttpRequest& req, const std::string& protocol) {
  std::string r =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
  r += "Sec-WebSocket-Accept: " + ws::AcceptKey(req.Header("sec-websocket-key")) + "\r\n";
  if (!protocol.empty()) r += "Sec-WebSocket-Protocol: " + protocol + "\r\n";
  return r + "\r\n";
}

std::string SpdyAccept(const std::string& protocol) {
  std::string r =
      "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n";
  if (!protocol.empty()) r += "X-Stream-Protocol-Version: " + protocol + "\r\n";
  return r + "\r\n";
}

void Session::Run() {
  if (!conn_.in.empty()) OnInput();
  std::vector<Watch> watches;
  std::vector<pollfd> fds;
  while (!done_) {
    watches.clear();
    Collect(watches);
    if (done_) break;
    fds.clear();
    // While what the client sent cannot be passed on, stop reading it (TCP pushes back).
    bool want = WantInput();
    fds.push_back({conn_.fd(), conn_.PollEvents(want), 0});
    fds.push_back({conn_.stop_fd(), POLLIN, 0});
    for (const auto& w : watches) fds.push_back({w.fd, w.events, 0});
    int timeout = want && conn_.has_pending_input() ? 0 : 200;
    int rc = poll(fds.data(), fds.size(), timeout);
    if (rc < 0 && errno != EINTR) break;
    if (fds[1].revents) break;  // server stopping
    bool had_input = false;
    short rev = fds[0].revents;
    if ((want && ((rev & POLLIN) || conn_.has_pending_input())) || (rev & (POLLHUP | POLLERR))) {
      size_t before = conn_.in.size();
      conn_.ReadAvailable();
      had_input = conn_.in.size() != before;
      if (had_input) OnInput();
      if (conn_.eof() && !done_) OnClientGone();
    }
    if (fds[0].revents & POLLOUT) conn_.Flush();
    // Client input may have dropped what the watches point at: they are collected afresh
    // (poll is level-triggered, so their events come back at once).
    for (size_t i = 0; i < watches.size() && !done_ && !had_input; ++i)
      if (fds[i + 2].revents) watches[i].on(fds[i + 2].revents);
    if (!done_) Tick();
    if (!conn_.Flush() && !done_) OnClientGone();
  }
  if (graceful_ && !conn_.eof()) {
    if (conn_.WriteAll("", std::chrono::seconds(10)).ok()) {
      // Let the client read everything and close first.
      auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
      while (!conn_.eof() && !conn_.stopping() && std::chrono::steady_clock::now() < until) {
        if (!conn_.WaitReadable(std::chrono::milliseconds(200))) continue;
        conn_.ReadAvailable();
        conn_.in.clear();
      }
    }
  }
  conn_.Shutdown();
}

}  // namespace sampan::streaming
