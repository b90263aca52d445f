// port-forward: SPDY/3.1 (portforward.k8s.io: a data and an error stream per
// requestid), the same SPDY byte stream tunnelled in WebSocket binary messages
// (SPDY/3.1+portforward.k8s.io, kubectl 1.30+), and the plain WebSocket form
// (`?ports=`; per port a data channel 2i and an error channel 2i+1, each opened by a
// frame carrying the port as 2 little-endian bytes).
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <memory>

#include "streaming/session.h"
#include "streaming/spdy.h"
#include "streaming/websocket.h"
#include "util/base64.h"

namespace sampan::streaming {

namespace {

using Clock = std::chrono::steady_clock;

// One forwarded TCP connection to the pod.
struct Target {
  int fd = -1;
  int port = 0;
  std::string to_pod;        // client bytes not yet written to the pod
  bool client_done = false;  // the client finished sending (shut our write side when flushed)
  bool pod_done = false;     // the pod closed its side (or failed)
  bool shut_wr = false;
  // SPDY
  uint32_t data_stream = 0, error_stream = 0;
  Clock::time_point created = Clock::now();
  // plain WebSocket
  int index = -1;
  ~Target() {
    if (fd >= 0) close(fd);
  }
};

enum class Mode { kSpdy, kSpdyOverWebSocket, kWebSocket };

class PortForward final : public Session {
 public:
  PortForward(Conn& conn, Mode mode, bool base64, Backend& backend, std::string ns, std::string pod)
      : Session(conn),
        mode_(mode),
        base64_(base64),
        backend_(backend),
        ns_(std::move(ns)),
        pod_(std::move(pod)) {}

  // Plain WebSocket: connect every port now and announce the channels.
  void StartWebSocketPorts(const std::vector<int>& ports) {
    for (size_t i = 0; i < ports.size(); ++i) {
      auto t = std::make_unique<Target>();
      t->port = ports[i];
      t->index = static_cast<int>(i);
      std::string prefix = {static_cast<char>(ports[i] & 0xff), static_cast<char>(ports[i] >> 8)};
      SendChannel(2 * i, prefix);
      SendChannel(2 * i + 1, prefix);
      auto fd = backend_.PortForward(ns_, pod_, ports[i]);
      if (!fd.ok()) {
        SendChannel(2 * i + 1, "error forwarding port " + std::to_string(ports[i]) + " to pod " +
                                   pod_ + ": " + fd.status().message());
        t->pod_done = t->client_done = true;
      } else {
        t->fd = *fd;
        SetNonBlocking(t->fd);
      }
      ws_targets_.push_back(std::move(t));
    }
    CheckWebSocketDone();
  }

 protected:
  void OnInput() override {
    if (mode_ == Mode::kSpdy) {
      spdy_.Feed(conn_.in);
      conn_.in.clear();
      DrainSpdy();
      return;
    }
    ws_.Feed(conn_.in);
    conn_.in.clear();
    for (;;) {
      auto m = ws_.Next();
      if (!m.ok()) {
        conn_.Queue(ws::EncodeClose(1002, m.status().message()));
        return End(false);
      }
      if (!*m) break;
      ws::Message& msg = **m;
      if (msg.op == ws::kPing) {
        conn_.Queue(ws::EncodeFrame(ws::kPong, msg.payload));
      } else if (msg.op == ws::kClose) {
        conn_.Queue(ws::EncodeClose(1000, ""));
        return End(true);
      } else if (msg.op == ws::kBinary || msg.op == ws::kText) {
        if (mode_ == Mode::kSpdyOverWebSocket) {
          spdy_.Feed(msg.payload);
          DrainSpdy();
        } else {
          WebSocketData(msg);
        }
      }
    }
  }

  void OnClientGone() override { End(false); }

  bool WantInput() const override {
    size_t pending = 0;
    for (const auto& [id, t] : by_request_) pending += t->to_pod.size();
    for (const auto& t : ws_targets_) pending += t->to_pod.size();
    return pending < (8 << 20);
  }

  void Collect(std::vector<Watch>& w) override {
    auto add = [&](Target* t) {
      if (t->fd < 0) return;
      short ev = 0;
      if (!t->pod_done && output_has_room()) ev |= POLLIN;
      if (!t->to_pod.empty()) ev |= POLLOUT;
      if (ev) w.push_back({t->fd, ev, [this, t](short rev) { OnTarget(*t, rev); }});
    };
    for (auto& [id, t] : by_request_) add(t.get());
    for (auto& t : ws_targets_) add(t.get());
  }

  void Tick() override {
    // A pair whose second stream never came: give up on it after 30 s, as the kubelet does.
    for (auto it = by_request_.begin(); it != by_request_.end();) {
      Target& t = *it->second;
      if (t.fd < 0 && !t.pod_done && Clock::now() - t.created > std::chrono::seconds(30)) {
        if (t.error_stream)
          SendSpdy(
              spdy::Codec::Data(t.error_stream, "timed out waiting for the stream pair", true));
        if (t.data_stream) SendSpdy(spdy::Codec::Data(t.data_stream, "", true));
        it = by_request_.erase(it);
      } else {
        ++it;
      }
    }
  }

 private:
  void SendSpdy(const std::string& bytes) {
    if (mode_ == Mode::kSpdyOverWebSocket)
      conn_.Queue(ws::EncodeFrame(ws::kBinary, bytes));
    else
      conn_.Queue(bytes);
  }

  void SendChannel(size_t channel, std::string_view data) {
    std::string p;
    if (base64_) {
      p.push_back(static_cast<char>('0' + channel));
      p += Base64Encode(data);
      conn_.Queue(ws::EncodeFrame(ws::kText, p));
    } else {
      p.push_back(static_cast<char>(channel));
      p.append(data);
      conn_.Queue(ws::EncodeFrame(ws::kBinary, p));
    }
  }

  void DrainSpdy() {
    for (;;) {
      auto f = spdy_.Next();
      if (!f.ok()) return End(false);
      if (!*f) return;
      HandleSpdy(std::move(**f));
    }
  }

  void HandleSpdy(spdy::Frame f) {
    switch (f.type) {
      case spdy::kSynStream: {
        std::string type(spdy::HeaderValue(f.headers, "streamtype"));
        std::string request(spdy::HeaderValue(f.headers, "requestid"));
        std::string port_text(spdy::HeaderValue(f.headers, "port"));
        SendSpdy(spdy_.SynReply(f.stream_id, {}, false));
        int port = std::atoi(port_text.c_str());
        if ((type != "data" && type != "error") || port <= 0 || port > 65535) {
          SendSpdy(spdy::Codec::RstStream(f.stream_id, spdy::kProtocolError));
          return;
        }
        auto& t = by_request_[request];
        if (!t) t = std::make_unique<Target>();
        t->port = port;
        if (type == "data")
          t->data_stream = f.stream_id;
        else
          t->error_stream = f.stream_id;
        stream_request_[f.stream_id] = request;
        if (t->data_stream && t->error_stream && t->fd < 0 && !t->pod_done) Connect(*t);
        if (type == "data" && f.fin()) ClientDone(*t);
        return;
      }
      case spdy::kData: {
        Target* t = ByStream(f.stream_id);
        if (!t || f.stream_id != t->data_stream) return;
        if (!t->pod_done) t->to_pod += f.data;
        if (f.fin()) ClientDone(*t);
        return;
      }
      case spdy::kRstStream: {
        auto it = stream_request_.find(f.stream_id);
        if (it == stream_request_.end()) return;
        auto t = by_request_.find(it->second);
        if (t != by_request_.end() && f.stream_id == t->second->data_stream) {
          if (t->second->error_stream)
            SendSpdy(spdy::Codec::Data(t->second->error_stream, "", true));
          Forget(it->second);
        }
        return;
      }
      case spdy::kPing:
        SendSpdy(spdy::Codec::Ping(f.value));
        return;
      case spdy::kGoAway:
        return;
      default:
        return;
    }
  }

  Target* ByStream(uint32_t id) {
    auto it = stream_request_.find(id);
    if (it == stream_request_.end()) return nullptr;
    auto t = by_request_.find(it->second);
    return t == by_request_.end() ? nullptr : t->second.get();
  }

  void Forget(const std::string& request) {
    auto it = by_request_.find(request);
    if (it == by_request_.end()) return;
    stream_request_.erase(it->second->data_stream);
    stream_request_.erase(it->second->error_stream);
    by_request_.erase(it);
  }

  void Connect(Target& t) {
    auto fd = backend_.PortForward(ns_, pod_, t.port);
    if (!fd.ok()) {
      std::string msg = "error forwarding port " + std::to_string(t.port) + " to pod " + pod_ +
                        ": " + fd.status().message();
      SendSpdy(spdy::Codec::Data(t.error_stream, msg, true));
      SendSpdy(spdy::Codec::Data(t.data_stream, "", true));
      t.pod_done = t.client_done = true;
      return;
    }
    t.fd = *fd;
    SetNonBlocking(t.fd);
  }

  void ClientDone(Target& t) {
    t.client_done = true;
    MaybeShutWrite(t);
  }

  void MaybeShutWrite(Target& t) {
    if (t.client_done && t.to_pod.empty() && t.fd >= 0 && !t.shut_wr && !t.pod_done) {
      shutdown(t.fd, SHUT_WR);
      t.shut_wr = true;
    }
  }

  void OnTarget(Target& t, short rev) {
    if ((rev & POLLOUT) && !t.to_pod.empty()) {
      ssize_t n = send(t.fd, t.to_pod.data(), t.to_pod.size(), MSG_NOSIGNAL);
      if (n > 0) {
        t.to_pod.erase(0, n);
        MaybeShutWrite(t);
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        PodClosed(t, "");
        return;
      }
    }
    if (rev & (POLLIN | POLLHUP | POLLERR)) {
      char buf[32768];
      ssize_t n = recv(t.fd, buf, sizeof buf, 0);
      if (n > 0) {
        std::string_view data(buf, n);
        if (mode_ == Mode::kWebSocket)
          SendChannel(2 * t.index, data);
        else
          SendSpdy(spdy::Codec::Data(t.data_stream, data, false));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        PodClosed(t, n < 0 ? std::string(strerror(errno)) : "");
      }
    }
  }

  // The pod side ended: finish both streams so the client lets go of this connection.
  void PodClosed(Target& t, const std::string& error) {
    t.pod_done = true;
    t.to_pod.clear();
    if (mode_ == Mode::kWebSocket) {
      if (!error.empty()) SendChannel(2 * t.index + 1, error);
      close(t.fd);
      t.fd = -1;
      CheckWebSocketDone();
      return;
    }
    if (!error.empty()) SendSpdy(spdy::Codec::Data(t.error_stream, error, false));
    SendSpdy(spdy::Codec::Data(t.data_stream, "", true));
    SendSpdy(spdy::Codec::Data(t.error_stream, "", true));
    for (auto& [req, p] : by_request_) {
      if (p.get() == &t) {
        std::string copy = req;
        Forget(copy);
        break;
      }
    }
  }

  // Plain WebSocket forwarding has no way to end one port: the connection ends when all do.
  void CheckWebSocketDone() {
    for (auto& t : ws_targets_)
      if (!t->pod_done) return;
    conn_.Queue(ws::EncodeClose(1000, ""));
    End(true);
  }

  void WebSocketData(const ws::Message& m) {
    if (m.payload.empty()) return;
    int channel;
    std::string data;
    if (base64_) {
      channel = m.payload[0] - '0';
      auto d = Base64Decode(std::string_view(m.payload).substr(1));
      if (!d) return;
      data = std::move(*d);
    } else {
      channel = static_cast<uint8_t>(m.payload[0]);
      data = m.payload.substr(1);
    }
    if (channel % 2 != 0 || channel / 2 >= static_cast<int>(ws_targets_.size())) return;
    Target& t = *ws_targets_[channel / 2];
    if (!t.pod_done) t.to_pod += data;
  }

  Mode mode_;
  bool base64_;
  Backend& backend_;
  std::string ns_, pod_;
  spdy::Codec spdy_;
  ws::Parser ws_{true};
  std::map<std::string, std::unique_ptr<Target>> by_request_;
  std::map<uint32_t, std::string> stream_request_;
  std::vector<std::unique_ptr<Target>> ws_targets_;
};

}  // namespace

void ServePortForward(Conn& conn, const HttpRequest& req, Backend& backend, const std::string& ns,
                      const std::string& pod) {
  auto fail = [&](const Status& st) {
    (void)conn.WriteAll(HttpResponse(HttpCode(st), "application/json", StatusJson(st)),
                        std::chrono::seconds(10));
    conn.Shutdown();
  };
  if (IsSpdyUpgrade(req)) {
    std::string proto =
        Negotiate(req.HeaderList("x-stream-protocol-version"), {"portforward.k8s.io"});
    if (proto.empty()) return fail(BadRequest("port-forward needs protocol portforward.k8s.io"));
    if (!conn.WriteAll(SpdyAccept(proto), std::chrono::seconds(10)).ok()) return;
    PortForward pf(conn, Mode::kSpdy, false, backend, ns, pod);
    pf.Run();
    return;
  }
  if (!IsWebSocketUpgrade(req))
    return fail(BadRequest("port-forward needs an upgrade to WebSocket or SPDY/3.1"));
  std::vector<std::string> offered = req.HeaderList("sec-websocket-protocol");
  std::string proto = Negotiate(
      offered, {"SPDY/3.1+portforward.k8s.io", "v4.channel.k8s.io", "v4.base64.channel.k8s.io",
                "portforward.k8s.io", "channel.k8s.io", "base64.channel.k8s.io"});
  if (proto.empty() && !offered.empty())
    return fail(BadRequest("none of the offered WebSocket subprotocols is supported"));
  if (proto == "SPDY/3.1+portforward.k8s.io") {
    if (!conn.WriteAll(WebSocketAccept(req, proto), std::chrono::seconds(10)).ok()) return;
    PortForward pf(conn, Mode::kSpdyOverWebSocket, false, backend, ns, pod);
    pf.Run();
    return;
  }
  std::vector<int> ports;
  for (const auto& value : req.QueryAll("ports")) {
    std::string_view s = value;
    while (!s.empty()) {
      auto c = s.find(',');
      std::string item(s.substr(0, c));
      int p = std::atoi(item.c_str());
      if (p <= 0 || p > 65535) return fail(BadRequest("invalid port \"" + item + "\""));
      ports.push_back(p);
      if (c == std::string_view::npos) break;
      s.remove_prefix(c + 1);
    }
  }
  if (ports.empty()) return fail(BadRequest("query parameter \"ports\" is required"));
  if (!conn.WriteAll(WebSocketAccept(req, proto), std::chrono::seconds(10)).ok()) return;
  PortForward pf(conn, Mode::kWebSocket, proto.find("base64") != std::string::npos, backend, ns,
                 pod);
  pf.StartWebSocketPorts(ports);
  pf.Run();
}

}  // namespace sampan::streaming
