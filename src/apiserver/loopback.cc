#include "apiserver/loopback.h"

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <shared_mutex>

#include "util/log.h"
#include "util/url.h"

namespace sampan::apiserver {

namespace {

using client::LoopbackExchange;
using client::LoopbackHeaders;

constexpr std::string_view kNoUpgrade =
    R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":)"
    R"("exec, attach, port-forward and proxy streams are not available on the in-process )"
    R"(loopback connection; use the HTTPS endpoint","reason":"BadRequest","code":400})";

class GateImpl final : public LoopbackGate {
 public:
  void Close() override {
    std::unique_lock lk(mu);
    open = false;
  }
  std::shared_mutex mu;
  bool open = true;  // guarded by mu
};

// Answers a handler through the exchange. Lives on the request's strand.
class LoopbackResponder final : public Responder {
 public:
  LoopbackResponder(std::shared_ptr<LoopbackExchange> ex, asio::any_io_executor strand)
      : ex_(std::move(ex)), strand_(std::move(strand)) {}

  asio::awaitable<void> Send(Response r) override {
    sent_ = true;
    LoopbackHeaders headers;
    headers.reserve(2 + r.headers.size());
    headers.emplace_back("content-type", std::move(r.content_type));
    headers.emplace_back("cache-control", "no-cache, private");
    for (auto& h : r.headers) headers.push_back(std::move(h));
    ex_->Complete(r.status, std::move(headers), std::move(r.body));
    co_return;
  }

  asio::awaitable<Status> BeginStream(int status, std::string content_type) override {
    sent_ = true;
    LoopbackHeaders headers;
    headers.emplace_back("content-type", std::move(content_type));
    headers.emplace_back("cache-control", "no-cache, private");
    if (!ex_->BeginStream(status, std::move(headers))) {
      failed_ = true;
      co_return Unavailable("client gone");
    }
    co_return Status::Ok();
  }

  asio::awaitable<Status> Write(std::string chunk) override {
    if (failed_) co_return Unavailable("client gone");
    if (!ex_->Append(chunk)) {
      failed_ = true;
      if (ex_->too_slow())
        LOG(WARNING) << "loopback stream ended: its reader is more than "
                     << (LoopbackExchange::kMaxBuffered >> 20) << " MiB behind";
      co_return Unavailable("client gone");
    }
    co_return Status::Ok();
  }

  bool takes_objects() const override { return true; }

  asio::awaitable<Status> WriteEvents(std::vector<StreamEvent> events) override {
    if (failed_) co_return Unavailable("client gone");
    std::vector<client::LoopbackEvent> out;
    out.reserve(events.size());
    for (auto& e : events) out.push_back({std::move(e.type), std::move(e.object)});
    if (!ex_->AppendEvents(std::move(out))) {
      failed_ = true;
      if (ex_->too_slow())
        LOG(WARNING) << "loopback stream ended: its reader is more than "
                     << LoopbackExchange::kMaxEvents << " events behind";
      co_return Unavailable("client gone");
    }
    co_return Status::Ok();
  }

  asio::awaitable<void> Finish() override {
    if (!failed_) ex_->Finish();
    co_return;
  }

  bool sent() const override { return sent_; }

  void WatchForClose(std::function<void()> on_close) override {
    close_ = std::make_shared<CloseState>();
    close_->on_close = std::move(on_close);
    auto state = close_;
    auto strand = strand_;
    ex_->OnClientGone([state, strand] {
      asio::post(strand, [state] {
        if (state->on_close) state->on_close();
      });
    });
  }
  bool client_closed() const override { return ex_->client_gone(); }

  // No upgraded connections here: the first raw write answers with a Status instead.
  asio::awaitable<Status> WriteRaw(std::string) override {
    if (!sent_) {
      sent_ = true;
      ex_->Complete(400, LoopbackHeaders{{"content-type", "application/json"}},
                    std::string(kNoUpgrade));
    }
    failed_ = true;
    co_return Status(Code::kBadRequest, "no raw streams on the loopback connection");
  }
  asio::awaitable<std::string> ReadRaw() override { co_return std::string(); }

  // Called on the strand once the handler returned: a later hang-up calls nothing.
  void Detach() {
    if (close_) close_->on_close = nullptr;
    ex_->OnClientGone(nullptr);
  }

 private:
  struct CloseState {
    std::function<void()> on_close;  // touched only on the strand
  };
  std::shared_ptr<LoopbackExchange> ex_;
  asio::any_io_executor strand_;
  std::shared_ptr<CloseState> close_;
  bool sent_ = false;
  bool failed_ = false;
};

class ServerImpl;

// Owned by the serving coroutine (as a parameter, so it also runs when a coroutine that never
// started is destroyed with the io_context): ends the exchange for the client in every case.
struct InFlight {
  InFlight(std::shared_ptr<LoopbackExchange> e, std::shared_ptr<std::atomic<size_t>> n)
      : ex(std::move(e)), active(std::move(n)) {
    active->fetch_add(1, std::memory_order_relaxed);
  }
  InFlight(InFlight&& o) noexcept : ex(std::move(o.ex)), active(std::move(o.active)) {}
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
  InFlight& operator=(InFlight&&) = delete;
  ~InFlight() {
    if (!ex) return;
    ex->Abort();  // no-op after a complete answer
    active->fetch_sub(1, std::memory_order_relaxed);
  }
  std::shared_ptr<LoopbackExchange> ex;
  std::shared_ptr<std::atomic<size_t>> active;
};

asio::awaitable<void> ServeOne(Handler handler, Request req, InFlight flight) {
  auto strand = co_await asio::this_coro::executor;
  LoopbackResponder res(flight.ex, strand);
  co_await ServeRequest(handler, req, res);
  res.Detach();
}

class ServerImpl final : public client::LoopbackServer {
 public:
  ServerImpl(asio::io_context& io, const Handler& handler, Identity identity,
             std::shared_ptr<LoopbackGate> gate, IoPicker pick)
      : io_(io),
        pick_(std::move(pick)),
        handler_(handler),
        identity_(std::move(identity)),
        gate_(std::static_pointer_cast<GateImpl>(std::move(gate))) {
    identity_.authenticated = true;
    bool has = false;
    for (const auto& g : identity_.groups) has = has || g == "system:authenticated";
    if (!has) identity_.groups.push_back("system:authenticated");
  }

  void Serve(client::LoopbackRequest in, std::shared_ptr<LoopbackExchange> ex) override {
    // The request is put together on the caller's thread; the API threads only handle it.
    Request req;
    req.method = std::move(in.method);
    req.target = std::move(in.target);
    url::SplitTarget(req.target, &req.path, &req.query);
    for (auto& [k, v] : in.headers) {
      auto [it, fresh] = req.headers.emplace(std::move(k), v);
      if (!fresh) it->second += ", " + v;
    }
    req.body = std::move(in.body);
    req.identity = identity_;
    req.remote = "loopback";
    std::shared_lock lk(gate_->mu);
    if (!gate_->open) {
      ex->Abort();
      return;
    }
    InFlight flight(std::move(ex), active_);
    Handler h = handler_;
    asio::co_spawn(asio::make_strand(pick_ ? pick_() : io_),
                   ServeOne(std::move(h), std::move(req), std::move(flight)), asio::detached);
  }

  size_t active() const override { return active_->load(std::memory_order_relaxed); }

 private:
  asio::io_context& io_;
  IoPicker pick_;
  Handler handler_;
  Identity identity_;
  std::shared_ptr<GateImpl> gate_;
  std::shared_ptr<std::atomic<size_t>> active_ = std::make_shared<std::atomic<size_t>>(0);
};

}  // namespace

std::shared_ptr<LoopbackGate> NewLoopbackGate() { return std::make_shared<GateImpl>(); }

std::shared_ptr<client::LoopbackServer> NewLoopbackServer(asio::io_context& io,
                                                          const Handler& handler, Identity identity,
                                                          std::shared_ptr<LoopbackGate> gate,
                                                          IoPicker pick) {
  return std::make_shared<ServerImpl>(io, handler, std::move(identity), std::move(gate),
                                      std::move(pick));
}

}  // namespace sampan::apiserver
