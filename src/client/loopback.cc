// The client half of the in-process loopback (client/loopback.h): a Dialer whose
// connections hand requests to a LoopbackServer and wait on the exchange.
#include "client/loopback.h"

#include <cctype>
#include <mutex>

#include "client/transport.h"

namespace sampan::client::internal {

namespace {

namespace http = boost::beast::http;

LoopbackRequest ToLoopback(const Request& req) {
  LoopbackRequest out;
  out.method = std::string(req.method_string());
  out.target = std::string(req.target());
  out.headers.reserve(8);
  for (const auto& f : req) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers.emplace_back(std::move(name), std::string(f.value()));
  }
  out.body = req.body();
  return out;
}

class LoopbackConnection final : public Connection {
 public:
  explicit LoopbackConnection(std::shared_ptr<LoopbackServer> server)
      : server_(std::move(server)) {}

  Result<Response> RoundTrip(Request& req, std::chrono::milliseconds timeout) override {
    auto ex = Start(req);
    if (!ex) return Unavailable("the loopback connection was cancelled");
    auto wait = ex->WaitFor(true, LoopbackExchange::Clock::now() + timeout);
    if (wait != LoopbackExchange::Wait::kReady) {
      ex->Cancel();  // the server side sees the client gone
      broken_ = true;
      if (wait == LoopbackExchange::Wait::kTimeout)
        return Status(Code::kTimeout, "request timed out");
      return Unavailable(wait == LoopbackExchange::Wait::kAborted
                             ? "the API server ended the request without an answer"
                             : "the loopback connection was cancelled");
    }
    Response res;
    res.result(static_cast<unsigned>(ex->status()));
    res.version(11);
    auto [headers, body] = ex->TakeResponse();
    for (auto& [k, v] : headers) res.set(k, v);
    res.body() = std::move(body);
    res.content_length(res.body().size());
    Done();
    return res;
  }

  Result<int> StartStream(Request& req, std::chrono::milliseconds timeout) override {
    auto ex = Start(req);
    if (!ex) return Unavailable("the loopback connection was cancelled");
    broken_ = true;  // one stream per connection, as over HTTP
    auto wait = ex->WaitFor(false, LoopbackExchange::Clock::now() + timeout);
    if (wait == LoopbackExchange::Wait::kTimeout) {
      ex->Cancel();
      return Status(Code::kTimeout, "timed out waiting for the response header");
    }
    if (wait != LoopbackExchange::Wait::kReady)
      return Unavailable("the API server ended the request without an answer");
    return ex->status();
  }

  Result<size_t> ReadSome(char* buf, size_t cap) override {
    std::shared_ptr<LoopbackExchange> ex;
    {
      std::lock_guard lk(mu_);
      ex = exchange_;
    }
    if (!ex) return Internal("ReadSome before StartStream");
    long n = ex->Read(buf, cap);
    if (n >= 0) return static_cast<size_t>(n);
    if (ex->client_gone()) return size_t{0};  // our own Cancel()
    return Unavailable("reading stream: the API server ended it abruptly");
  }

  bool NextEvent(LoopbackEvent* event) override {
    std::shared_ptr<LoopbackExchange> ex;
    {
      std::lock_guard lk(mu_);
      ex = exchange_;
    }
    return ex && ex->NextEvent(event);
  }

  void Cancel() override {
    std::shared_ptr<LoopbackExchange> ex;
    {
      std::lock_guard lk(mu_);
      cancelled_ = true;
      ex = exchange_;
    }
    if (ex) ex->Cancel();
  }

  bool reusable() const override { return !broken_; }

 private:
  std::shared_ptr<LoopbackExchange> Start(Request& req) {
    auto ex = std::make_shared<LoopbackExchange>();
    {
      std::lock_guard lk(mu_);
      if (cancelled_) return nullptr;
      exchange_ = ex;
    }
    server_->Serve(ToLoopback(req), ex);
    return ex;
  }
  void Done() {
    std::lock_guard lk(mu_);
    exchange_.reset();
  }

  std::shared_ptr<LoopbackServer> server_;
  std::mutex mu_;
  std::shared_ptr<LoopbackExchange> exchange_;  // guarded by mu_
  bool cancelled_ = false;                      // guarded by mu_
  bool broken_ = false;
};

class LoopbackDialer final : public Dialer {
 public:
  explicit LoopbackDialer(std::shared_ptr<LoopbackServer> server) : server_(std::move(server)) {
    ep_.tls = false;
    ep_.host = "loopback";
    ep_.port = "0";
  }
  Result<std::unique_ptr<Connection>> Connect(std::chrono::milliseconds) override {
    return std::unique_ptr<Connection>(std::make_unique<LoopbackConnection>(server_));
  }
  const Endpoint& endpoint() const override { return ep_; }

 private:
  std::shared_ptr<LoopbackServer> server_;
  Endpoint ep_;
};

}  // namespace

std::unique_ptr<Dialer> NewLoopbackDialer(std::shared_ptr<LoopbackServer> server) {
  return std::make_unique<LoopbackDialer>(std::move(server));
}

}  // namespace sampan::client::internal
