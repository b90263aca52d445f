#include "client/workqueue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace sampan::client {
namespace {
using namespace std::chrono_literals;

TEST(WorkQueueTest, DeduplicatesWaitingKeys) {
  WorkQueue q;
  q.Add("a");
  q.Add("b");
  q.Add("a");
  EXPECT_EQ(q.Len(), 2u);
  std::string k;
  ASSERT_TRUE(q.Get(&k));
  EXPECT_EQ(k, "a");
  ASSERT_TRUE(q.Get(&k));
  EXPECT_EQ(k, "b");
  EXPECT_EQ(q.Len(), 0u);
}

TEST(WorkQueueTest, KeyBeingProcessedComesBackAfterDone) {
  WorkQueue q;
  q.Add("a");
  std::string k;
  ASSERT_TRUE(q.Get(&k));
  q.Add("a");  // while processing: held back
  EXPECT_EQ(q.Len(), 0u);
  q.Done("a");
  EXPECT_EQ(q.Len(), 1u);
  ASSERT_TRUE(q.Get(&k));
  EXPECT_EQ(k, "a");
  q.Done("a");
  EXPECT_EQ(q.Len(), 0u);
}

TEST(WorkQueueTest, NeverTwoWorkersOnOneKey) {
  WorkQueue q;
  std::atomic<int> active{0}, max_active{0}, processed{0};
  std::vector<std::thread> workers;
  for (int i = 0; i < 4; ++i) {
    workers.emplace_back([&] {
      std::string k;
      while (q.Get(&k)) {
        int now = ++active;
        int prev = max_active.load();
        while (now > prev && !max_active.compare_exchange_weak(prev, now)) {
        }
        std::this_thread::sleep_for(1ms);
        --active;
        ++processed;
        q.Done(k);
      }
    });
  }
  for (int i = 0; i < 200; ++i) {
    q.Add("same");
    if (i % 20 == 0) std::this_thread::sleep_for(1ms);
  }
  std::this_thread::sleep_for(50ms);
  q.ShutDown();
  for (auto& t : workers) t.join();
  EXPECT_EQ(max_active.load(), 1);
  EXPECT_GE(processed.load(), 1);
}

TEST(WorkQueueTest, ExponentialBackoffAndForget) {
  WorkQueue q(WorkQueue::Options{10ms, 50ms});
  EXPECT_EQ(q.NextDelay("k"), 10ms);
  q.AddRateLimited("k");
  EXPECT_EQ(q.NumRequeues("k"), 1);
  EXPECT_EQ(q.NextDelay("k"), 20ms);
  q.AddRateLimited("k");
  q.AddRateLimited("k");
  EXPECT_EQ(q.NextDelay("k"), 50ms);  // capped (80 > 50)
  q.Forget("k");
  EXPECT_EQ(q.NumRequeues("k"), 0);
  EXPECT_EQ(q.NextDelay("k"), 10ms);
}

TEST(WorkQueueTest, AddAfterDelaysDelivery) {
  WorkQueue q;
  auto start = std::chrono::steady_clock::now();
  q.AddAfter("late", 60ms);
  q.AddAfter("early", 20ms);
  std::string k;
  ASSERT_TRUE(q.Get(&k));
  EXPECT_EQ(k, "early");
  ASSERT_TRUE(q.Get(&k));
  EXPECT_EQ(k, "late");
  EXPECT_GE(std::chrono::steady_clock::now() - start, 60ms);
}

TEST(WorkQueueTest, ShutDownWakesWorkers) {
  WorkQueue q;
  std::thread t([&] {
    std::string k;
    EXPECT_FALSE(q.Get(&k));
  });
  std::this_thread::sleep_for(20ms);
  q.ShutDown();
  t.join();
  q.Add("x");  // ignored after shutdown
  EXPECT_EQ(q.Len(), 0u);
}

}  // namespace
}  // namespace sampan::client
