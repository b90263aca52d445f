// Awaitable wrappers over the store's callback-style writes: the coroutine
// resumes on its own executor once the write is durable and, for the variants
// given the watch cache's AppliedRevision, once the cache has applied it too —
// in one hand-off from the store thread that learns it last, rather than
// resuming after the commit only to suspend again until the cache catches up.
//
// GCC 12 note (applies to every coroutine in sampan): pass coroutines named
// lvalues (moved if need be), never prvalue temporaries such as `T{}`, `""` for a
// std::string parameter or a lambda for a std::function parameter: GCC 12 may
// destroy such a temporary twice when it is copied into the coroutine frame.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>

#include "apiserver/object_cache.h"
#include "store/backend.h"

namespace sampan::apiserver {

template <typename Start>
boost::asio::awaitable<Result<int64_t>> AwaitWrite(Start start) {
  auto initiation = [start = std::move(start)](auto handler) mutable {
    using H = decltype(handler);
    auto shared = std::make_shared<H>(std::move(handler));
    start([shared](Result<int64_t> r) {
      auto ex = boost::asio::get_associated_executor(*shared);
      boost::asio::post(ex, [shared, r = std::move(r)]() mutable { (*shared)(std::move(r)); });
    });
  };
  // Not a coroutine itself: the initiation is owned by Asio until it completes.
  return boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(Result<int64_t>)>(
      std::move(initiation), boost::asio::use_awaitable);
}

// Like AwaitWrite, but a successful write resumes the coroutine only once `applied` has reached
// its revision (or the cache stopped); a failed one at once.
template <typename Start>
boost::asio::awaitable<Result<int64_t>> AwaitWriteApplied(std::shared_ptr<AppliedRevision> applied,
                                                          Start start) {
  auto initiation = [start = std::move(start), applied = std::move(applied)](auto handler) mutable {
    using H = decltype(handler);
    auto shared = std::make_shared<H>(std::move(handler));
    start([shared, applied](Result<int64_t> r) {
      auto resume = [shared, r]() mutable {
        auto ex = boost::asio::get_associated_executor(*shared);
        boost::asio::post(ex, [shared, r = std::move(r)]() mutable { (*shared)(std::move(r)); });
      };
      if (!r.ok()) {
        resume();
      } else {
        int64_t rev = *r;
        applied->OnApplied(rev, std::move(resume));
      }
    });
  };
  return boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(Result<int64_t>)>(
      std::move(initiation), boost::asio::use_awaitable);
}

inline boost::asio::awaitable<Result<int64_t>> AwaitCreateApplied(
    store::Backend& b, std::shared_ptr<AppliedRevision> applied, std::string key,
    std::string value) {
  return AwaitWriteApplied(std::move(applied), [&b, key = std::move(key), value = std::move(value)](
                                                   store::WriteCallback done) mutable {
    b.Create(std::move(key), std::move(value), std::move(done));
  });
}

inline boost::asio::awaitable<Result<int64_t>> AwaitUpdateApplied(
    store::Backend& b, std::shared_ptr<AppliedRevision> applied, std::string key, std::string value,
    int64_t expected) {
  return AwaitWriteApplied(std::move(applied), [&b, key = std::move(key), value = std::move(value),
                                                expected](store::WriteCallback done) mutable {
    b.Update(std::move(key), std::move(value), expected, std::move(done));
  });
}

inline boost::asio::awaitable<Result<int64_t>> AwaitDeleteApplied(
    store::Backend& b, std::shared_ptr<AppliedRevision> applied, std::string key,
    int64_t expected) {
  return AwaitWriteApplied(std::move(applied),
                           [&b, key = std::move(key), expected](store::WriteCallback done) mutable {
                             b.Delete(std::move(key), expected, std::move(done));
                           });
}

inline boost::asio::awaitable<Result<int64_t>> AwaitCreate(store::Backend& b, std::string key,
                                                           std::string value) {
  return AwaitWrite([&b, key = std::move(key), value = std::move(value)](
                        store::WriteCallback done) mutable {
    b.Create(std::move(key), std::move(value), std::move(done));
  });
}

inline boost::asio::awaitable<Result<int64_t>> AwaitUpdate(store::Backend& b, std::string key,
                                                           std::string value, int64_t expected) {
  return AwaitWrite([&b, key = std::move(key), value = std::move(value), expected](
                        store::WriteCallback done) mutable {
    b.Update(std::move(key), std::move(value), expected, std::move(done));
  });
}

inline boost::asio::awaitable<Result<int64_t>> AwaitDelete(store::Backend& b, std::string key,
                                                           int64_t expected) {
  return AwaitWrite([&b, key = std::move(key), expected](store::WriteCallback done) mutable {
    b.Delete(std::move(key), expected, std::move(done));
  });
}

}  // namespace sampan::apiserver
