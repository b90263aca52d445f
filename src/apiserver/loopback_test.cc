// The serving half of the loopback with hand-written handlers (the client tests drive it
// with the real API handler: src/client/loopback_test.cc).
#include "apiserver/loopback.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <thread>

namespace sampan::apiserver {
namespace {

using client::LoopbackExchange;
using Clock = LoopbackExchange::Clock;

class LoopbackServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    gate_->Close();
    work_.reset();
    io_.stop();
    thread_.join();
  }
  std::shared_ptr<LoopbackExchange> Call(const std::shared_ptr<client::LoopbackServer>& s,
                                         std::string target) {
    client::LoopbackRequest req;
    req.method = "GET";
    req.target = std::move(target);
    req.headers = {{"accept", "application/json"}};
    auto ex = std::make_shared<LoopbackExchange>();
    s->Serve(std::move(req), ex);
    return ex;
  }
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  std::shared_ptr<LoopbackGate> gate_ = NewLoopbackGate();
  std::thread thread_;
};

TEST_F(LoopbackServerTest, RequestIdentityAndResponse) {
  Handler h = [](Request& req, Responder& res) -> asio::awaitable<void> {
    Response r;
    r.body = req.identity.user + "|" + std::to_string(req.identity.groups.size()) + "|" +
             req.path + "|" + std::string(req.Query("a")) + "|" + std::string(req.Header("accept"));
    r.headers.emplace_back("x-test", "1");
    co_await res.Send(std::move(r));
  };
  auto s = NewLoopbackServer(io_, h, Identity{"system:kube-scheduler", {"g1"}, false}, gate_);
  auto ex = Call(s, "/api/v1/x%20y?a=b%2Fc");
  ASSERT_EQ(ex->WaitFor(true, Clock::now() + std::chrono::seconds(5)),
            LoopbackExchange::Wait::kReady);
  EXPECT_EQ(ex->status(), 200);
  auto [headers, body] = ex->TakeResponse();
  EXPECT_EQ(body, "system:kube-scheduler|2|/api/v1/x y|b/c|application/json");
  bool saw = false;
  for (auto& [k, v] : headers) saw = saw || (k == "x-test" && v == "1");
  EXPECT_TRUE(saw);
  for (int i = 0; i < 500 && s->active() != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_EQ(s->active(), 0u);
}

TEST_F(LoopbackServerTest, HandlerWithoutAnswerIs500AndRawIsRefused) {
  Handler silent = [](Request&, Responder&) -> asio::awaitable<void> { co_return; };
  auto s = NewLoopbackServer(io_, silent, Identity{"u", {}, true}, gate_);
  auto ex = Call(s, "/x");
  ASSERT_EQ(ex->WaitFor(true, Clock::now() + std::chrono::seconds(5)),
            LoopbackExchange::Wait::kReady);
  EXPECT_EQ(ex->status(), 500);

  Handler raw = [](Request&, Responder& res) -> asio::awaitable<void> {
    std::string head = "HTTP/1.1 101 Switching Protocols\r\n\r\n";
    Status st = co_await res.WriteRaw(std::move(head));
    EXPECT_FALSE(st.ok());
  };
  auto r = NewLoopbackServer(io_, raw, Identity{"u", {}, true}, gate_);
  ex = Call(r, "/api/v1/namespaces/d/pods/p/exec");
  ASSERT_EQ(ex->WaitFor(true, Clock::now() + std::chrono::seconds(5)),
            LoopbackExchange::Wait::kReady);
  EXPECT_EQ(ex->status(), 400);
  auto body = ex->TakeResponse().second;
  EXPECT_NE(body.find("not available on the in-process loopback"), std::string::npos) << body;
}

TEST_F(LoopbackServerTest, ClientHangUpReachesAWaitingStream) {
  auto closed = std::make_shared<std::atomic<bool>>(false);
  Handler stream = [closed](Request&, Responder& res) -> asio::awaitable<void> {
    if (!(co_await res.BeginStream(200, "application/json")).ok()) co_return;
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer wait(ex);
    res.WatchForClose([&wait] { wait.cancel(); });
    std::string first = "{\"first\":1}\n";
    Status st = co_await res.Write(std::move(first));
    EXPECT_TRUE(st.ok());
    wait.expires_after(std::chrono::seconds(30));
    boost::system::error_code ec;
    co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    *closed = res.client_closed();
    std::string late = "late\n";
    EXPECT_FALSE((co_await res.Write(std::move(late))).ok());
  };
  auto s = NewLoopbackServer(io_, stream, Identity{"u", {}, true}, gate_);
  auto ex = Call(s, "/watch");
  ASSERT_EQ(ex->WaitFor(false, Clock::now() + std::chrono::seconds(5)),
            LoopbackExchange::Wait::kReady);
  char buf[64];
  long n = ex->Read(buf, sizeof buf);
  EXPECT_EQ(std::string(buf, n > 0 ? n : 0), "{\"first\":1}\n");
  EXPECT_EQ(s->active(), 1u);
  auto start = Clock::now();
  ex->Cancel();
  auto deadline = start + std::chrono::seconds(5);
  while (s->active() != 0 && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(s->active(), 0u);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE(closed->load());
}

TEST_F(LoopbackServerTest, ClosedGateRefuses) {
  Handler h = [](Request&, Responder& res) -> asio::awaitable<void> {
    Response r;
    co_await res.Send(std::move(r));
  };
  auto s = NewLoopbackServer(io_, h, Identity{"u", {}, true}, gate_);
  gate_->Close();
  auto ex = Call(s, "/x");
  EXPECT_EQ(ex->WaitFor(true, Clock::now() + std::chrono::seconds(1)),
            LoopbackExchange::Wait::kAborted);
}

}  // namespace
}  // namespace sampan::apiserver
