#include "scheduler/scheduling_queue.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace sampan::scheduler {
namespace {
using namespace std::chrono_literals;
using Part = SchedulingQueue::Part;

class SchedulingQueueTest : public ::testing::Test {
 protected:
  SchedulingQueue::Options Opts() {
    SchedulingQueue::Options o;
    o.clock = &clock_;
    return o;
  }
  // Pops everything ready now, in order.
  static std::vector<std::string> Drain(SchedulingQueue& q) {
    std::vector<std::string> out;
    std::string k;
    while (q.TryPop(&k)) out.push_back(k);
    return out;
  }
  static std::string PopOne(SchedulingQueue& q) {
    std::string k;
    return q.TryPop(&k) ? k : "";
  }
  static size_t Total(const SchedulingQueue& q) {
    auto c = q.counts();
    return c.active + c.backoff + c.unschedulable + c.in_flight;
  }
  ManualClock clock_;
};

TEST_F(SchedulingQueueTest, HigherPriorityFirst) {
  SchedulingQueue q(Opts());
  q.AddOrUpdate("ns/a", 0);
  q.AddOrUpdate("ns/b", 10);
  q.AddOrUpdate("ns/c", 5);
  q.AddOrUpdate("ns/d", 10);
  q.AddOrUpdate("ns/e", -3);
  EXPECT_EQ(Drain(q), (std::vector<std::string>{"ns/b", "ns/d", "ns/c", "ns/a", "ns/e"}));
  EXPECT_EQ(q.counts().in_flight, 5u);
}

TEST_F(SchedulingQueueTest, FifoAmongEqualPriorityByQueueTime) {
  SchedulingQueue q(Opts());
  // Same clock reading: insertion order. Names sort the other way on purpose.
  q.AddOrUpdate("ns/z", 1);
  q.AddOrUpdate("ns/y", 1);
  clock_.Advance(1);
  q.AddOrUpdate("ns/x", 1);
  EXPECT_EQ(Drain(q), (std::vector<std::string>{"ns/z", "ns/y", "ns/x"}));
  // A pod that failed is stamped with its failure time: it goes behind earlier arrivals.
  q.Done("ns/y");
  q.Done("ns/x");
  q.AddOrUpdate("ns/w", 1);  // t+1
  clock_.Advance(1);
  q.AddUnschedulable("ns/z");  // failed at t+2
  clock_.Advance(5);
  q.MoveAllToActiveOrBackoff();
  q.AddOrUpdate("ns/v", 1);  // t+7
  EXPECT_EQ(Drain(q), (std::vector<std::string>{"ns/w", "ns/z", "ns/v"}));
}

TEST_F(SchedulingQueueTest, PriorityChangeWhileActiveReorders) {
  SchedulingQueue q(Opts());
  q.AddOrUpdate("ns/a", 1);
  q.AddOrUpdate("ns/b", 1);
  q.AddOrUpdate("ns/b", 7, false);
  EXPECT_EQ(Drain(q), (std::vector<std::string>{"ns/b", "ns/a"}));
}

TEST_F(SchedulingQueueTest, BackoffDoublesAndIsCapped) {
  SchedulingQueue q(Opts());
  EXPECT_EQ(q.BackoffFor(1), 1s);
  EXPECT_EQ(q.BackoffFor(2), 2s);
  EXPECT_EQ(q.BackoffFor(3), 4s);
  EXPECT_EQ(q.BackoffFor(4), 8s);
  EXPECT_EQ(q.BackoffFor(5), 10s);
  EXPECT_EQ(q.BackoffFor(60), 10s);

  q.AddOrUpdate("ns/p", 0);
  // Each failed attempt waits 1, 2, 4, 8, 10, 10 s: not a second less.
  for (int64_t wait : {1, 2, 4, 8, 10, 10}) {
    ASSERT_EQ(PopOne(q), "ns/p");
    q.AddBackoff("ns/p");
    EXPECT_EQ(q.Where("ns/p"), Part::kBackoff);
    clock_.Advance(wait - 1);
    EXPECT_EQ(PopOne(q), "") << "backoff " << wait;
    clock_.Advance(1);
    EXPECT_EQ(q.Where("ns/p"), Part::kBackoff);  // moved when someone looks
  }
  EXPECT_EQ(PopOne(q), "ns/p");
  EXPECT_EQ(q.Attempts("ns/p"), 7);
  // Success forgets the pod and its attempts.
  q.Done("ns/p");
  EXPECT_EQ(q.Where("ns/p"), Part::kNone);
  EXPECT_EQ(q.Attempts("ns/p"), 0);
  EXPECT_EQ(Total(q), 0u);
}

TEST_F(SchedulingQueueTest, BackoffWithCustomLimits) {
  SchedulingQueue::Options o = Opts();
  o.initial_backoff = 2s;
  o.max_backoff = 5s;
  SchedulingQueue q(o);
  EXPECT_EQ(q.BackoffFor(1), 2s);
  EXPECT_EQ(q.BackoffFor(2), 4s);
  EXPECT_EQ(q.BackoffFor(3), 5s);
}

TEST_F(SchedulingQueueTest, UnschedulableWaitsForAMoveEvent) {
  SchedulingQueue q(Opts());
  q.AddOrUpdate("ns/p", 3);
  ASSERT_EQ(PopOne(q), "ns/p");
  q.AddUnschedulable("ns/p");
  EXPECT_EQ(q.Where("ns/p"), Part::kUnschedulable);
  clock_.Advance(60);  // backoff long over, but no event: it waits
  EXPECT_EQ(PopOne(q), "");
  // A non-relevant update (status, resync) does not move it; a relevant one would.
  q.AddOrUpdate("ns/p", 3, false);
  EXPECT_EQ(q.Where("ns/p"), Part::kUnschedulable);
  q.MoveAllToActiveOrBackoff();
  EXPECT_EQ(q.Where("ns/p"), Part::kActive);
  EXPECT_EQ(PopOne(q), "ns/p");
}

TEST_F(SchedulingQueueTest, MoveEventRespectsRemainingBackoff) {
  SchedulingQueue q(Opts());
  q.AddOrUpdate("ns/p", 0);
  ASSERT_EQ(PopOne(q), "ns/p");
  q.AddUnschedulable("ns/p");  // attempt 1: 1 s backoff from now
  q.MoveAllToActiveOrBackoff();
  EXPECT_EQ(q.Where("ns/p"), Part::kBackoff);
  EXPECT_EQ(PopOne(q), "");
  clock_.Advance(1);
  EXPECT_EQ(PopOne(q), "ns/p");
}

TEST_F(SchedulingQueueTest, RelevantUpdateMovesUnschedulablePod) {
  SchedulingQueue q(Opts());
  q.AddOrUpdate("ns/p", 0);
  ASSERT_EQ(PopOne(q), "ns/p");
  q.AddUnschedulable("ns/p");
  clock_.Advance(2);
  q.AddOrUpdate("ns/p", 0, true);
  EXPECT_EQ(q.Where("ns/p"), Part::kActive);
}

TEST_F(SchedulingQueueTest, UnschedulablePodsLeaveAfterTheMaximumWait) {
  SchedulingQueue::Options o = Opts();
  o.max_in_unschedulable = 5min;
  SchedulingQueue q(o);
  q.AddOrUpdate("ns/a", 0);
  ASSERT_EQ(PopOne(q), "ns/a");
  q.AddUnschedulable("ns/a");
  clock_.Advance(100);
  q.AddOrUpdate("ns/b", 0);
  ASSERT_EQ(PopOne(q), "ns/b");
  q.AddUnschedulable("ns/b");
  clock_.Advance(199);
  EXPECT_EQ(PopOne(q), "");
  clock_.Advance(1);  // a waited 300 s
  EXPECT_EQ(PopOne(q), "ns/a");
  EXPECT_EQ(q.Where("ns/b"), Part::kUnschedulable);
  clock_.Advance(100);
  EXPECT_EQ(PopOne(q), "ns/b");
}

TEST_F(SchedulingQueueTest, UpdateWhileInFlightIsNotLostNorHandedOutTwice) {
  SchedulingQueue q(Opts());
  q.AddOrUpdate("ns/p", 0);
  ASSERT_EQ(PopOne(q), "ns/p");
  // The pod's spec changes during its cycle: it is not handed to a second cycle...
  q.AddOrUpdate("ns/p", 0, true);
  EXPECT_EQ(q.Where("ns/p"), Part::kInFlight);
  EXPECT_EQ(PopOne(q), "");
  // ...and the failed cycle saw the old spec, so it is not parked as unschedulable: it waits
  // out its backoff and comes back.
  q.AddUnschedulable("ns/p");
  EXPECT_EQ(q.Where("ns/p"), Part::kBackoff);
  clock_.Advance(1);
  ASSERT_EQ(PopOne(q), "ns/p");
  // A status-only update during the cycle changes nothing.
  q.AddOrUpdate("ns/p", 0, false);
  q.AddUnschedulable("ns/p");
  EXPECT_EQ(q.Where("ns/p"), Part::kUnschedulable);
  EXPECT_EQ(Total(q), 1u);
}

TEST_F(SchedulingQueueTest, UpdateDuringASuccessfulCycleGivesOneMoreLook) {
  SchedulingQueue q(Opts());
  q.AddOrUpdate("ns/p", 0);
  ASSERT_EQ(PopOne(q), "ns/p");
  q.AddOrUpdate("ns/p", 0, true);
  q.Done("ns/p");
  EXPECT_EQ(q.Where("ns/p"), Part::kActive);
  ASSERT_EQ(PopOne(q), "ns/p");
  q.Done("ns/p");
  EXPECT_EQ(Total(q), 0u);
}

TEST_F(SchedulingQueueTest, MoveEventDuringACycleKeepsThePodOutOfUnschedulable) {
  SchedulingQueue q(Opts());
  q.AddOrUpdate("ns/a", 0);
  q.AddOrUpdate("ns/b", 0);
  ASSERT_EQ(PopOne(q), "ns/a");
  q.MoveAllToActiveOrBackoff();  // e.g. a node was added while "a" was being tried
  q.AddUnschedulable("ns/a");
  EXPECT_EQ(q.Where("ns/a"), Part::kBackoff);
  ASSERT_EQ(PopOne(q), "ns/b");  // popped after the event: parked
  q.AddUnschedulable("ns/b");
  EXPECT_EQ(q.Where("ns/b"), Part::kUnschedulable);
}

TEST_F(SchedulingQueueTest, DeletionFromEachPart) {
  SchedulingQueue q(Opts());
  for (const char* k : {"ns/active", "ns/backoff", "ns/unsched", "ns/flight"}) q.AddOrUpdate(k, 0);
  // Pop all, then send each where it belongs (one stays in flight).
  ASSERT_EQ(Drain(q).size(), 4u);
  q.AddOrUpdate("ns/active", 0, true);  // dirty while in flight...
  q.Done("ns/active");                  // ...so back to activeQ
  q.AddBackoff("ns/backoff");
  q.AddUnschedulable("ns/unsched");
  EXPECT_EQ(q.Where("ns/active"), Part::kActive);
  EXPECT_EQ(q.Where("ns/backoff"), Part::kBackoff);
  EXPECT_EQ(q.Where("ns/unsched"), Part::kUnschedulable);
  EXPECT_EQ(q.Where("ns/flight"), Part::kInFlight);
  EXPECT_EQ(Total(q), 4u);

  for (const char* k : {"ns/active", "ns/backoff", "ns/unsched"}) {
    q.Delete(k);
    EXPECT_EQ(q.Where(k), Part::kNone) << k;
  }
  // In flight: still the cycle's until it reports, then dropped whatever the outcome.
  q.Delete("ns/flight");
  EXPECT_EQ(q.Where("ns/flight"), Part::kInFlight);
  q.AddUnschedulable("ns/flight");
  EXPECT_EQ(q.Where("ns/flight"), Part::kNone);
  EXPECT_EQ(Total(q), 0u);
  clock_.Advance(600);
  q.MoveAllToActiveOrBackoff();
  EXPECT_EQ(PopOne(q), "");

  // Deleted and re-created (same name) during a cycle: the new pod is queued afterwards.
  q.AddOrUpdate("ns/again", 0);
  ASSERT_EQ(PopOne(q), "ns/again");
  q.Delete("ns/again");
  q.AddOrUpdate("ns/again", 0, false);
  q.Done("ns/again");
  EXPECT_EQ(q.Where("ns/again"), Part::kActive);
}

TEST_F(SchedulingQueueTest, ActivateSkipsBackoff) {
  SchedulingQueue q(Opts());
  q.AddOrUpdate("ns/p", 0);
  ASSERT_EQ(PopOne(q), "ns/p");
  q.AddBackoff("ns/p");
  q.Activate("ns/p");
  EXPECT_EQ(PopOne(q), "ns/p");
  q.AddUnschedulable("ns/p");
  q.Activate("ns/p");
  EXPECT_EQ(PopOne(q), "ns/p");
  q.Activate("ns/p");  // in flight: retried after the cycle
  q.AddUnschedulable("ns/p");
  EXPECT_EQ(q.Where("ns/p"), Part::kActive);
  q.Activate("ns/unknown");
  EXPECT_EQ(q.Where("ns/unknown"), Part::kNone);
}

TEST_F(SchedulingQueueTest, FailedBindingAfterDoneReentersBackoff) {
  SchedulingQueue q(Opts());
  q.AddOrUpdate("ns/p", 4);
  ASSERT_EQ(PopOne(q), "ns/p");
  q.Done("ns/p");
  q.AddBackoff("ns/p", 4);
  EXPECT_EQ(q.Where("ns/p"), Part::kBackoff);
  EXPECT_EQ(q.Attempts("ns/p"), 1);
  // A key already queued elsewhere is left there.
  q.AddOrUpdate("ns/q", 0);
  q.AddBackoff("ns/q");
  EXPECT_EQ(q.Where("ns/q"), Part::kActive);
  clock_.Advance(1);
  EXPECT_EQ(Drain(q), (std::vector<std::string>{"ns/p", "ns/q"}));
}

TEST_F(SchedulingQueueTest, BlockingPopWakesOnAddBackoffExpiryAndShutDown) {
  SchedulingQueue::Options o;  // the real clock
  o.initial_backoff = 50ms;
  SchedulingQueue q(o);
  std::string got;
  std::thread t([&] { q.Pop(&got); });
  std::this_thread::sleep_for(20ms);
  q.AddOrUpdate("ns/p", 0);
  t.join();
  EXPECT_EQ(got, "ns/p");
  q.AddBackoff("ns/p");
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(q.Pop(&got));
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, 40ms);
  EXPECT_LT(waited, 900ms);  // woken by the deadline, not the 1 s poll
  bool result = true;
  std::thread t2([&] { result = q.Pop(&got); });
  std::this_thread::sleep_for(20ms);
  q.ShutDown();
  t2.join();
  EXPECT_FALSE(result);
}

}  // namespace
}  // namespace sampan::scheduler
