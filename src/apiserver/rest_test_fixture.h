// A REST storage over the memory store, its watch cache and an io_context thread, for tests of
// code that runs on the API server's executor (rest_test.cc, priority_admission_test.cc).
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "apiserver/namespace_controller.h"
#include "apiserver/rest.h"

namespace sampan::apiserver {

class RestFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = std::move(store::OpenBackend("memory://").value());
    cache_ = std::make_unique<ObjectCache>(*backend_);
    ASSERT_TRUE(cache_->Start().ok());
    rest_ = std::make_unique<Rest>(*backend_, *cache_, api::BuiltinRegistry());
    work_.emplace(io_.get_executor());
    thread_ = std::thread([this] { io_.run(); });
    ASSERT_TRUE(Run(EnsureSystemNamespaces(*rest_)).ok());
    // What the serviceaccounts controller would make: pods need their namespace's account
    // (sa_admission.h).
    for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
      ASSERT_TRUE(CreateDefaultServiceAccount(ns).ok());
    }
  }
  Result<ObjectPtr> CreateDefaultServiceAccount(const std::string& ns) {
    boost::json::object sa{{"apiVersion", "v1"},
                           {"kind", "ServiceAccount"},
                           {"metadata", boost::json::object{{"name", "default"}}}};
    return Run(rest_->Create(*api::BuiltinRegistry().FindKind("", "v1", "ServiceAccount"), ns,
                             boost::json::value(std::move(sa)), WriteOptions{}));
  }
  void TearDown() override {
    work_.reset();
    io_.stop();
    thread_.join();
  }
  // Runs a coroutine on the server's executor and waits for its result.
  template <typename T>
  static asio::awaitable<void> Into(asio::awaitable<T> aw, std::promise<T>* out) {
    out->set_value(co_await std::move(aw));
  }
  template <typename T>
  T Run(asio::awaitable<T> aw) {
    std::promise<T> p;
    auto f = p.get_future();
    asio::co_spawn(asio::make_strand(io_), Into(std::move(aw), &p), asio::detached);
    return f.get();
  }
  void Run(asio::awaitable<void> aw) {
    asio::co_spawn(asio::make_strand(io_), std::move(aw), asio::use_future).get();
  }

  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread thread_;
  std::unique_ptr<store::Backend> backend_;
  std::unique_ptr<ObjectCache> cache_;
  std::unique_ptr<Rest> rest_;
};

}  // namespace sampan::apiserver
