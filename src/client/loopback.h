// The in-process loopback connection: how components living in the API server's
// own process (controllers, scheduler, node agent) reach it without TLS, TCP or
// HTTP text. The client hands a request to a LoopbackServer (implemented by the
// API server, src/apiserver/loopback.h) and reads the answer from a
// LoopbackExchange that the server side fills in.
//
// Header-only on purpose: the API server implements LoopbackServer and fills
// exchanges without linking the client library; the client library never
// includes API server headers.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace boost::json {
class object;
}

namespace sampan::client {

// A watch event handed over as an object rather than as text: the in-process loopback
// passes the API server's own immutable copy, which the client shares instead of parsing.
struct LoopbackEvent {
  std::string type;  // ADDED | MODIFIED | DELETED | BOOKMARK | ERROR
  std::shared_ptr<const boost::json::object> object;
};

using LoopbackHeaders = std::vector<std::pair<std::string, std::string>>;

struct LoopbackRequest {
  std::string method;       // "GET", "POST", ...
  std::string target;       // path and query, as on an HTTP request line
  LoopbackHeaders headers;  // lower-case names
  std::string body;
};

// One request's answer, shared by the serving side (any thread; in the API server, the
// request's strand) and the one client thread that waits for it. Either a whole response
// (Complete) or a stream (BeginStream, Append..., Finish). Either side may end it early:
// the client with Cancel() (the server sees client_gone() and its on-gone callback), the
// server with Abort() (the client's wait fails). Thread-safe.
class LoopbackExchange {
 public:
  using Clock = std::chrono::steady_clock;
  // Unread stream bytes above which Append reports the client as too slow (the server then
  // ends the stream, as Kubernetes ends a watch whose client does not keep up).
  static constexpr size_t kMaxBuffered = 64u << 20;

  // ---- serving side ----
  // The whole response. No-op once the client is gone.
  void Complete(int status, LoopbackHeaders headers, std::string body) {
    std::lock_guard lk(mu_);
    if (state_ != State::kWaiting) return;
    status_ = status;
    headers_ = std::move(headers);
    buffer_ = std::move(body);
    state_ = State::kDone;
    cv_.notify_all();
  }
  // Starts a stream; false if the client is gone.
  bool BeginStream(int status, LoopbackHeaders headers) {
    std::lock_guard lk(mu_);
    if (state_ != State::kWaiting) return false;
    status_ = status;
    headers_ = std::move(headers);
    state_ = State::kStreaming;
    cv_.notify_all();
    return true;
  }
  // Adds stream bytes; false once the client is gone (or too far behind: the stream is
  // then ended for it).
  bool Append(std::string_view bytes) {
    std::lock_guard lk(mu_);
    if (state_ != State::kStreaming) return false;
    if (buffer_.size() - read_pos_ + bytes.size() > kMaxBuffered) {
      state_ = State::kDone;  // the reader drains what it has, then sees the end
      too_slow_ = true;
      cv_.notify_all();
      return false;
    }
    if (read_pos_ > 0 && read_pos_ == buffer_.size()) {
      buffer_.clear();
      read_pos_ = 0;
    } else if (read_pos_ >= (1u << 16) && read_pos_ * 2 >= buffer_.size()) {
      buffer_.erase(0, read_pos_);  // keep the consumed prefix from growing without bound
      read_pos_ = 0;
    }
    bool was_empty = read_pos_ == buffer_.size();
    buffer_.append(bytes);
    if (was_empty) cv_.notify_all();
    return true;
  }
  // Adds watch events to a stream as objects (a stream carries either these or bytes);
  // false once the client is gone, or too far behind (as for Append).
  static constexpr size_t kMaxEvents = 200000;
  bool AppendEvents(std::vector<LoopbackEvent> events) {
    std::lock_guard lk(mu_);
    if (state_ != State::kStreaming) return false;
    if (events_.size() + events.size() > kMaxEvents) {
      state_ = State::kDone;
      too_slow_ = true;
      cv_.notify_all();
      return false;
    }
    bool was_empty = events_.empty();
    for (auto& e : events) events_.push_back(std::move(e));
    if (was_empty) cv_.notify_all();
    return true;
  }
  // Ends a stream normally.
  void Finish() {
    std::lock_guard lk(mu_);
    if (state_ != State::kStreaming) return;
    state_ = State::kDone;
    cv_.notify_all();
  }
  // Ends the exchange without a (complete) answer: the server is going away or the handler
  // failed mid-stream. No-op after Complete/Finish.
  void Abort() {
    std::lock_guard lk(mu_);
    if (state_ == State::kWaiting || state_ == State::kStreaming) {
      state_ = State::kAborted;
      cv_.notify_all();
    }
  }
  bool client_gone() const {
    std::lock_guard lk(mu_);
    return state_ == State::kCancelled;
  }
  bool too_slow() const {
    std::lock_guard lk(mu_);
    return too_slow_;
  }
  // `on_gone` runs once when the client cancels (on the cancelling thread, outside the
  // lock), or right here if it already has. Replaces an earlier callback; nullptr clears.
  void OnClientGone(std::function<void()> on_gone) {
    std::unique_lock lk(mu_);
    if (state_ == State::kCancelled) {
      lk.unlock();
      if (on_gone) on_gone();
      return;
    }
    on_gone_ = std::move(on_gone);
  }

  // ---- client side ----
  enum class Wait { kReady, kTimeout, kAborted, kCancelled };
  // Until the status is known (`whole`: until the whole response or stream end is there).
  Wait WaitFor(bool whole, Clock::time_point deadline) {
    std::unique_lock lk(mu_);
    auto ready = [&] {
      return state_ == State::kDone || state_ == State::kAborted || state_ == State::kCancelled ||
             (!whole && state_ == State::kStreaming);
    };
    if (!cv_.wait_until(lk, deadline, ready)) return Wait::kTimeout;
    if (state_ == State::kAborted) return Wait::kAborted;
    if (state_ == State::kCancelled) return Wait::kCancelled;
    return Wait::kReady;
  }
  int status() const {
    std::lock_guard lk(mu_);
    return status_;
  }
  // After WaitFor(true) returned kReady: the headers and the whole body.
  std::pair<LoopbackHeaders, std::string> TakeResponse() {
    std::lock_guard lk(mu_);
    std::string body = read_pos_ == 0 ? std::move(buffer_) : buffer_.substr(read_pos_);
    buffer_.clear();
    read_pos_ = 0;
    return {std::move(headers_), std::move(body)};
  }
  // Stream bytes: blocks until some arrive; 0 at the end of the stream; -1 if the server
  // aborted it or the client cancelled.
  long Read(char* buf, size_t cap) {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return read_pos_ < buffer_.size() || state_ != State::kStreaming; });
    if (read_pos_ < buffer_.size() && state_ != State::kCancelled) {
      size_t n = std::min(cap, buffer_.size() - read_pos_);
      std::memcpy(buf, buffer_.data() + read_pos_, n);
      read_pos_ += n;
      return static_cast<long>(n);
    }
    return state_ == State::kDone ? 0 : -1;
  }
  // Blocks until the stream has something: true with `*event` filled when the next item is
  // an event object; false when bytes are next (Read them) or the stream has ended (Read
  // tells how).
  bool NextEvent(LoopbackEvent* event) {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] {
      return !events_.empty() || read_pos_ < buffer_.size() || state_ != State::kStreaming;
    });
    if (events_.empty() || state_ == State::kCancelled) return false;
    *event = std::move(events_.front());
    events_.pop_front();
    return true;
  }
  // The client hangs up: wakes a blocked Read/WaitFor, tells the server. Any thread.
  void Cancel() {
    std::function<void()> notify;
    {
      std::lock_guard lk(mu_);
      if (state_ == State::kCancelled) return;
      bool serving = state_ == State::kWaiting || state_ == State::kStreaming;
      state_ = State::kCancelled;
      buffer_.clear();
      read_pos_ = 0;
      events_.clear();
      if (serving) notify = std::move(on_gone_);
      on_gone_ = nullptr;
      cv_.notify_all();
    }
    if (notify) notify();
  }

 private:
  enum class State { kWaiting, kStreaming, kDone, kAborted, kCancelled };
  mutable std::mutex mu_;
  std::condition_variable cv_;
  State state_ = State::kWaiting;
  int status_ = 0;
  LoopbackHeaders headers_;
  std::string buffer_;  // the body, or unread stream bytes from read_pos_
  size_t read_pos_ = 0;
  std::deque<LoopbackEvent> events_;  // unread event objects of a stream
  bool too_slow_ = false;
  std::function<void()> on_gone_;
};

// The API server's side: serves one request asynchronously (on its own threads), as the
// identity this server object was made for, answering through `exchange`. Serve never
// blocks on the request's work. Thread-safe.
class LoopbackServer {
 public:
  virtual ~LoopbackServer() = default;
  virtual void Serve(LoopbackRequest request, std::shared_ptr<LoopbackExchange> exchange) = 0;
  // Requests (including streams) being served right now (for tests and diagnostics).
  virtual size_t active() const = 0;
};

}  // namespace sampan::client
