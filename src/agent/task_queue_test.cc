#include "agent/task_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace sampan::agent {
namespace {

TEST(TaskQueueTest, RunsJobsInOrderOffTheCallersThread) {
  TaskQueue q("test", 100);
  std::vector<int> seen;
  std::thread::id caller = std::this_thread::get_id(), runner;
  for (int i = 0; i < 50; ++i)
    ASSERT_TRUE(q.Post([&, i] {
      seen.push_back(i);
      runner = std::this_thread::get_id();
    }));
  q.Flush();
  ASSERT_EQ(seen.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(seen[i], i);
  EXPECT_NE(runner, caller);
  EXPECT_EQ(q.dropped(), 0u);
}

TEST(TaskQueueTest, DropsWhenFull) {
  TaskQueue q("test", 2);
  std::mutex gate;
  gate.lock();
  std::atomic<int> ran{0};
  ASSERT_TRUE(q.Post([&] {
    std::lock_guard<std::mutex> l(gate);  // holds the thread until the queue is full
    ++ran;
  }));
  // The first job may or may not have been taken off the queue yet: post until one drops.
  int accepted = 0;
  while (q.Post([&] { ++ran; })) ++accepted;
  EXPECT_GE(accepted, 1);
  EXPECT_LE(accepted, 2);
  EXPECT_EQ(q.dropped(), 1u);
  gate.unlock();
  q.Flush();
  EXPECT_EQ(ran.load(), 1 + accepted);
}

TEST(TaskQueueTest, StopDrainsWithinTheDeadlineAndRefusesLaterJobs) {
  std::atomic<int> ran{0};
  {
    TaskQueue q("test", 100);
    for (int i = 0; i < 10; ++i) q.Post([&] { ++ran; });
    q.Stop(std::chrono::seconds(5));
    EXPECT_EQ(ran.load(), 10);
    EXPECT_FALSE(q.Post([&] { ++ran; }));
    q.Flush();  // returns at once once stopped
  }
  EXPECT_EQ(ran.load(), 10);
}

TEST(TaskQueueTest, StopWithoutDrainDropsWhatWaits) {
  TaskQueue q("test", 100);
  std::mutex gate;
  gate.lock();
  std::atomic<int> ran{0};
  std::atomic<bool> started{false};
  q.Post([&] {
    started = true;
    std::lock_guard<std::mutex> l(gate);
    ++ran;
  });
  while (!started) std::this_thread::yield();
  for (int i = 0; i < 5; ++i) q.Post([&] { ++ran; });
  std::thread stopper([&] { q.Stop(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  gate.unlock();
  stopper.join();
  EXPECT_EQ(ran.load(), 1);
  EXPECT_EQ(q.dropped(), 5u);
}

}  // namespace
}  // namespace sampan::agent
