#include "agent/backoff.h"

#include <gtest/gtest.h>

namespace sampan::agent {
namespace {

TEST(BackoffTest, FirstFailureRetriesAtOnceThenDoubles) {
  Backoff b;
  EXPECT_FALSE(b.InBackoffSince("c", 100, 100));
  b.Next("c", 100);  // first restart, immediate
  EXPECT_EQ(b.Delay("c"), 10);
  // The restarted container failed again at 105: wait 10 s from then.
  EXPECT_TRUE(b.InBackoffSince("c", 105, 110));
  EXPECT_FALSE(b.InBackoffSince("c", 105, 115));
  b.Next("c", 105);
  EXPECT_EQ(b.Delay("c"), 20);
  EXPECT_TRUE(b.InBackoffSince("c", 130, 149));
  EXPECT_FALSE(b.InBackoffSince("c", 130, 150));
}

TEST(BackoffTest, CappedAtFiveMinutes) {
  Backoff b;
  double t = 0;
  for (int i = 0; i < 12; ++i) b.Next("c", t += 1);
  EXPECT_EQ(b.Delay("c"), 300);
}

TEST(BackoffTest, ExpiresAfterTenMinutesOfRunning) {
  Backoff b;
  for (int i = 0; i < 5; ++i) b.Next("c", i);
  EXPECT_EQ(b.Delay("c"), 160);
  // The container ran for more than 600 s after the last restart: no back-off any more,
  // and the next restart starts over at 10 s.
  EXPECT_FALSE(b.InBackoffSince("c", 4 + 601, 4 + 601));
  b.Next("c", 4 + 601);
  EXPECT_EQ(b.Delay("c"), 10);
}

TEST(BackoffTest, KeysAreIndependentAndReset) {
  Backoff b;
  b.Next("a", 0);
  b.Next("a", 1);
  EXPECT_EQ(b.Delay("a"), 20);
  EXPECT_EQ(b.Delay("b"), 0);
  b.Reset("a");
  EXPECT_FALSE(b.InBackoffSince("a", 2, 2));
}

}  // namespace
}  // namespace sampan::agent
