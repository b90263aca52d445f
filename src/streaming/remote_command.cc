// exec and attach: the channel protocols over WebSocket (channel.k8s.io,
// base64.channel.k8s.io, v4.channel.k8s.io, v4.base64.channel.k8s.io, v5.channel.k8s.io)
// and over SPDY/3.1 (streams named by their `streamtype` header; protocol versions
// channel.k8s.io, v2, v3, v4).
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "streaming/session.h"
#include "streaming/spdy.h"
#include "streaming/websocket.h"
#include "util/base64.h"
#include "util/log.h"

namespace sampan::streaming {

namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr int kStdin = 0, kStdout = 1, kStderr = 2, kError = 3, kResize = 4, kCloseSignal = 255;

// The process's wait() runs on its own thread and reports through an eventfd.
struct WaitState {
  int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  std::mutex mu;
  std::optional<Result<int>> result;
  ~WaitState() { close(efd); }
};

std::string ExitStatusJson(const Result<int>& r) {
  json::object o;
  o["metadata"] = json::object();
  if (r.ok() && *r == 0) {
    o["status"] = "Success";
    return json::serialize(o);
  }
  o["status"] = "Failure";
  if (!r.ok()) {
    o["message"] = r.status().message();
    o["reason"] = "InternalError";
    o["code"] = 500;
    return json::serialize(o);
  }
  o["message"] = "command terminated with non-zero exit code: exit status " + std::to_string(*r);
  o["reason"] = "NonZeroExitCode";
  json::object cause;
  cause["reason"] = "ExitCode";
  cause["message"] = std::to_string(*r);
  o["details"] = json::object{{"causes", json::array{cause}}};
  return json::serialize(o);
}

std::string ExitStatusText(const Result<int>& r) {
  if (!r.ok()) return r.status().message();
  if (*r == 0) return "";
  return "command terminated with non-zero exit code: exit status " + std::to_string(*r);
}

// Splits complete JSON objects off the front of `buf` (resize events arrive as a stream).
std::vector<std::string> TakeJsonObjects(std::string& buf) {
  std::vector<std::string> out;
  int depth = 0;
  bool in_str = false, esc = false;
  size_t start = std::string::npos, consumed = 0;
  for (size_t i = 0; i < buf.size(); ++i) {
    char c = buf[i];
    if (in_str) {
      if (esc)
        esc = false;
      else if (c == '\\')
        esc = true;
      else if (c == '"')
        in_str = false;
      continue;
    }
    if (c == '"')
      in_str = true;
    else if (c == '{') {
      if (depth++ == 0) start = i;
    } else if (c == '}' && depth > 0 && --depth == 0) {
      out.push_back(buf.substr(start, i - start + 1));
      consumed = i + 1;
    }
  }
  buf.erase(0, consumed);
  return out;
}

struct Options {
  bool websocket = true;
  std::string protocol;
  bool base64 = false;
  int version = 4;  // 1 channel.k8s.io, 2, 3, 4, 5
  bool stdin = false, stdout = true, stderr = true, tty = false;
};

class RemoteCommand final : public Session {
 public:
  RemoteCommand(Conn& conn, Options opts, ProcessHandle h)
      : Session(conn), o_(std::move(opts)), h_(std::move(h)) {
    if (h_.tty >= 0) {
      outs_.push_back({h_.tty, kStdout, false});
      stdin_fd_ = o_.stdin ? h_.tty : -1;
    } else {
      if (h_.stdout_fd >= 0) outs_.push_back({h_.stdout_fd, kStdout, false});
      if (h_.stderr_fd >= 0) outs_.push_back({h_.stderr_fd, kStderr, false});
      stdin_fd_ = h_.stdin_fd;
    }
    for (auto& out : outs_) SetNonBlocking(out.fd);
    if (stdin_fd_ >= 0) SetNonBlocking(stdin_fd_);
    started_ = o_.websocket;
    stream_deadline_ = Clock::now() + std::chrono::seconds(30);
    auto st = wait_;
    std::function<Result<int>()> wait = h_.wait;
    std::thread([st, wait] {
      Result<int> r = wait ? wait() : Result<int>(Internal("no wait function"));
      {
        std::lock_guard lk(st->mu);
        st->result.emplace(std::move(r));
      }
      uint64_t one = 1;
      (void)!write(st->efd, &one, sizeof one);
    }).detach();
  }

  ~RemoteCommand() override {
    if (!finished_ && !cancelled_ && h_.cancel) h_.cancel();
    std::vector<int> fds = {h_.stdin_fd, h_.stdout_fd, h_.stderr_fd, h_.tty};
    for (int fd : fds)
      if (fd >= 0) close(fd);
  }

 protected:
  void OnInput() override {
    if (o_.websocket) {
      ws_.Feed(conn_.in);
      conn_.in.clear();
      for (;;) {
        auto m = ws_.Next();
        if (!m.ok()) {
          conn_.Queue(ws::EncodeClose(1002, m.status().message()));
          ClientGone();
          return;
        }
        if (!*m) break;
        HandleWs(std::move(**m));
        if (gone_) return;
      }
    } else {
      spdy_.Feed(conn_.in);
      conn_.in.clear();
      for (;;) {
        auto f = spdy_.Next();
        if (!f.ok()) {
          ClientGone();
          return;
        }
        if (!*f) break;
        HandleSpdy(std::move(**f));
      }
    }
  }

  void OnClientGone() override { ClientGone(); }

  bool WantInput() const override { return stdin_buf_.size() < (4 << 20); }

  void Collect(std::vector<Watch>& w) override {
    if (gone_) return;
    if (started_ && output_has_room()) {
      for (auto& out : outs_) {
        if (out.eof) continue;
        OutFd* p = &out;
        w.push_back({out.fd, POLLIN, [this, p](short) { ReadOut(*p); }});
      }
    }
    if (stdin_fd_ >= 0 && !stdin_buf_.empty()) {
      w.push_back({stdin_fd_, POLLOUT, [this](short rev) { WriteStdin(rev); }});
    }
    if (!exited_) w.push_back({wait_->efd, POLLIN, [this](short) { CheckExit(); }});
  }

  void Tick() override {
    if (gone_ || finished_) return;
    if (!started_ && Clock::now() > stream_deadline_) {
      // The SPDY client never opened the streams it asked for.
      Finish(Result<int>(Internal("timed out waiting for the client's streams")));
      return;
    }
    if (!exited_) return;
    bool outputs_done = true;
    for (auto& out : outs_) outputs_done &= out.eof;
    // A background child may keep the pipes open after the process ends: give it a moment.
    if (outputs_done || Clock::now() > exit_time_ + std::chrono::seconds(2)) {
      if (!outputs_done) {
        for (auto& out : outs_)
          if (!out.eof) DrainOut(out);
      }
      Finish(*exit_);
    }
  }

 private:
  struct OutFd {
    int fd;
    int channel;
    bool eof;
  };

  void ReadOut(OutFd& out) {
    char buf[32768];
    ssize_t n = read(out.fd, buf, sizeof buf);
    if (n > 0) {
      Send(out.channel, std::string_view(buf, n));
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      out.eof = true;  // EOF, or EIO on a terminal whose other side is closed
    }
  }

  void DrainOut(OutFd& out) {
    for (int i = 0; i < 64 && !out.eof; ++i) {
      char buf[32768];
      ssize_t n = read(out.fd, buf, sizeof buf);
      if (n <= 0) break;
      Send(out.channel, std::string_view(buf, n));
    }
  }

  void WriteStdin(short rev) {
    ssize_t n = write(stdin_fd_, stdin_buf_.data(), stdin_buf_.size());
    if (n > 0) {
      stdin_buf_.erase(0, n);
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
      stdin_buf_.clear();  // the process closed its stdin
      stdin_eof_ = true;
    }
    MaybeCloseStdin();
  }

  void StdinData(std::string_view data) {
    if (stdin_fd_ < 0 || stdin_eof_) return;
    stdin_buf_.append(data);
  }

  void StdinEof() {
    stdin_eof_ = true;
    MaybeCloseStdin();
  }

  void MaybeCloseStdin() {
    // With a terminal, stdin and stdout share one fd, which stays open.
    if (stdin_eof_ && stdin_buf_.empty() && h_.stdin_fd >= 0 && stdin_fd_ == h_.stdin_fd) {
      close(h_.stdin_fd);
      h_.stdin_fd = -1;
      stdin_fd_ = -1;
    }
  }

  void Resize(const std::string& text) {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec || !v.is_object()) return;
    auto dim = [&](const char* k) -> uint16_t {
      auto* x = v.as_object().if_contains(k);
      if (!x) return 0;
      if (x->is_int64()) return static_cast<uint16_t>(x->as_int64());
      if (x->is_uint64()) return static_cast<uint16_t>(x->as_uint64());
      return 0;
    };
    if (h_.resize) h_.resize(dim("Width"), dim("Height"));
  }

  void CheckExit() {
    uint64_t v;
    (void)!read(wait_->efd, &v, sizeof v);
    std::lock_guard lk(wait_->mu);
    if (!wait_->result) return;
    exited_ = true;
    exit_.emplace(*wait_->result);
    exit_time_ = Clock::now();
  }

  // --- WebSocket ---
  void HandleWs(ws::Message m) {
    if (m.op == ws::kPing) {
      conn_.Queue(ws::EncodeFrame(ws::kPong, m.payload));
      return;
    }
    if (m.op == ws::kPong) return;
    if (m.op == ws::kClose) {
      if (!finished_) conn_.Queue(ws::EncodeClose(1000, ""));
      ClientGone();
      return;
    }
    if (m.payload.empty()) return;
    int channel;
    std::string data;
    if (o_.base64) {
      channel = m.payload[0] - '0';
      auto d = Base64Decode(std::string_view(m.payload).substr(1));
      if (!d) return;
      data = std::move(*d);
    } else {
      channel = static_cast<uint8_t>(m.payload[0]);
      data = m.payload.substr(1);
    }
    if (channel == kStdin) {
      StdinData(data);
    } else if (channel == kResize) {
      resize_buf_ += data;
      for (auto& obj : TakeJsonObjects(resize_buf_)) Resize(obj);
    } else if (channel == kCloseSignal && o_.version >= 5) {
      if (!data.empty() && static_cast<uint8_t>(data[0]) == kStdin) StdinEof();
    }
  }

  void SendWs(int channel, std::string_view data) {
    std::string payload;
    if (o_.base64) {
      payload.push_back(static_cast<char>('0' + channel));
      payload += Base64Encode(data);
      conn_.Queue(ws::EncodeFrame(ws::kText, payload));
    } else {
      payload.push_back(static_cast<char>(channel));
      payload.append(data);
      conn_.Queue(ws::EncodeFrame(ws::kBinary, payload));
    }
  }

  // --- SPDY ---
  void HandleSpdy(spdy::Frame f) {
    switch (f.type) {
      case spdy::kSynStream: {
        std::string type(spdy::HeaderValue(f.headers, "streamtype"));
        conn_.Queue(spdy_.SynReply(f.stream_id, {}, false));
        int ch = type == "stdin"    ? kStdin
                 : type == "stdout" ? kStdout
                 : type == "stderr" ? kStderr
                 : type == "error"  ? kError
                 : type == "resize" ? kResize
                                    : -1;
        if (ch < 0) {
          conn_.Queue(spdy::Codec::RstStream(f.stream_id, spdy::kProtocolError));
          return;
        }
        streams_[ch] = f.stream_id;
        channel_of_[f.stream_id] = ch;
        if (f.fin() && ch == kStdin) StdinEof();
        CheckStreamsReady();
        return;
      }
      case spdy::kData: {
        auto it = channel_of_.find(f.stream_id);
        if (it == channel_of_.end()) return;
        if (it->second == kStdin) {
          StdinData(f.data);
          if (f.fin()) StdinEof();
        } else if (it->second == kResize) {
          resize_buf_ += f.data;
          for (auto& obj : TakeJsonObjects(resize_buf_)) Resize(obj);
        }
        return;
      }
      case spdy::kRstStream: {
        auto it = channel_of_.find(f.stream_id);
        if (it != channel_of_.end() && it->second == kStdin) StdinEof();
        return;
      }
      case spdy::kPing:
        conn_.Queue(spdy::Codec::Ping(f.value));
        return;
      default:
        return;
    }
  }

  void CheckStreamsReady() {
    if (started_) return;
    auto has = [&](int ch) { return streams_.count(ch) > 0; };
    bool ready = (o_.version < 2 || has(kError)) && (!o_.stdin || has(kStdin)) &&
                 (!o_.stdout || has(kStdout)) && (!o_.stderr || o_.tty || has(kStderr));
    if (ready) started_ = true;
  }

  void Send(int channel, std::string_view data) {
    if (o_.websocket) {
      SendWs(channel, data);
    } else {
      auto it = streams_.find(channel);
      if (it != streams_.end()) conn_.Queue(spdy::Codec::Data(it->second, data, false));
    }
  }

  void Finish(const Result<int>& r) {
    finished_ = true;
    std::string status = o_.version >= 4 ? ExitStatusJson(r) : ExitStatusText(r);
    if (o_.websocket) {
      if (!status.empty()) SendWs(kError, status);
      conn_.Queue(ws::EncodeClose(1000, ""));
    } else {
      for (int ch : {kStdout, kStderr, kStdin, kResize}) {
        auto it = streams_.find(ch);
        if (it != streams_.end()) conn_.Queue(spdy::Codec::Data(it->second, "", true));
      }
      auto it = streams_.find(kError);
      if (it != streams_.end()) {
        if (!status.empty()) conn_.Queue(spdy::Codec::Data(it->second, status, false));
        conn_.Queue(spdy::Codec::Data(it->second, "", true));
      }
      conn_.Queue(spdy::Codec::GoAway(0, 0));
    }
    End(true);
  }

  void ClientGone() {
    if (gone_) return;
    gone_ = true;
    if (!finished_ && !exited_ && h_.cancel) {
      cancelled_ = true;
      h_.cancel();
    }
    End(false);
  }

  Options o_;
  ProcessHandle h_;
  std::vector<OutFd> outs_;
  int stdin_fd_ = -1;
  std::string stdin_buf_;
  bool stdin_eof_ = false;
  std::string resize_buf_;
  std::shared_ptr<WaitState> wait_ = std::make_shared<WaitState>();
  bool exited_ = false, finished_ = false, gone_ = false, cancelled_ = false, started_ = false;
  std::optional<Result<int>> exit_;
  Clock::time_point exit_time_, stream_deadline_;
  ws::Parser ws_{true};
  spdy::Codec spdy_;
  std::map<int, uint32_t> streams_;     // channel → SPDY stream id
  std::map<uint32_t, int> channel_of_;  // SPDY stream id → channel
};

}  // namespace

void ServeRemoteCommand(Conn& conn, const HttpRequest& req, Backend& backend, bool attach,
                        const ContainerRef& ref) {
  ExecRequest er;
  er.ref = ref;
  er.command = req.QueryAll("command");
  er.stdin = req.QueryBool("stdin", false);
  er.stdout = req.QueryBool("stdout", true);
  er.stderr = req.QueryBool("stderr", true);
  er.tty = req.QueryBool("tty", false);
  if (er.tty) er.stderr = false;  // a terminal merges stderr into stdout
  auto fail = [&](const Status& st) {
    (void)conn.WriteAll(HttpResponse(HttpCode(st), "application/json", StatusJson(st)),
                        std::chrono::seconds(10));
    conn.Shutdown();
  };
  if (!attach && er.command.empty()) return fail(BadRequest("you must specify at least 1 command"));
  if (!er.stdin && !er.stdout && !er.stderr)
    return fail(BadRequest("you must specify at least 1 of stdin, stdout, stderr"));

  Options o;
  o.stdin = er.stdin;
  o.stdout = er.stdout;
  o.stderr = er.stderr;
  o.tty = er.tty;
  std::string accept;
  if (IsWebSocketUpgrade(req)) {
    o.websocket = true;
    std::vector<std::string> offered = req.HeaderList("sec-websocket-protocol");
    o.protocol =
        Negotiate(offered, {"v5.channel.k8s.io", "v4.channel.k8s.io", "v4.base64.channel.k8s.io",
                            "channel.k8s.io", "base64.channel.k8s.io"});
    if (o.protocol.empty() && !offered.empty())
      return fail(BadRequest("none of the offered WebSocket subprotocols is supported"));
    o.base64 = o.protocol.find("base64") != std::string::npos;
    o.version = o.protocol.rfind("v5.", 0) == 0 ? 5 : o.protocol.rfind("v4.", 0) == 0 ? 4 : 1;
    accept = WebSocketAccept(req, o.protocol);
  } else if (IsSpdyUpgrade(req)) {
    o.websocket = false;
    o.protocol = Negotiate(
        req.HeaderList("x-stream-protocol-version"),
        {"v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"});
    if (o.protocol.empty())
      return fail(BadRequest("none of the offered stream protocol versions is supported"));
    o.version = o.protocol[0] == 'v' ? o.protocol[1] - '0' : 1;
    accept = SpdyAccept(o.protocol);
  } else {
    return fail(BadRequest("exec and attach need an upgrade to WebSocket or SPDY/3.1"));
  }
  auto handle = attach ? backend.Attach(er) : backend.Exec(er);
  if (!handle.ok()) return fail(handle.status());
  if (!conn.WriteAll(accept, std::chrono::seconds(10)).ok()) {
    if (handle->cancel) handle->cancel();
    for (int fd : {handle->stdin_fd, handle->stdout_fd, handle->stderr_fd, handle->tty})
      if (fd >= 0) close(fd);
    return;
  }
  RemoteCommand rc(conn, std::move(o), std::move(*handle));
  rc.Run();
}

}  // namespace sampan::streaming
