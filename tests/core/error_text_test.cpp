#include "ordergate/core/error_text.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace ordergate {
namespace {

TEST(ErrorText, GivesTheSystemsMessageForKnownAndUnknownCodes) {
  EXPECT_EQ(error_text(ENOENT), std::string(std::strerror(ENOENT)));
  EXPECT_EQ(error_text(EACCES), std::string(std::strerror(EACCES)));
  EXPECT_EQ(error_text(123456), "Unknown error 123456");
  EXPECT_EQ(error_text(-5), "Unknown error -5");
}

TEST(ErrorText, ThreadsAskingForDifferentCodesEachGetTheirOwnMessage) {
  const std::vector<int> codes = {ENOENT, EACCES, EINVAL, ENOSPC};
  std::vector<std::set<std::string>> seen(codes.size());
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < codes.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) seen[t].insert(error_text(codes[t]));
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (std::size_t t = 0; t < codes.size(); ++t) {
    ASSERT_EQ(seen[t].size(), 1u) << codes[t];
    EXPECT_EQ(*seen[t].begin(), std::string(std::strerror(codes[t])));
  }
}

}  // namespace
}  // namespace ordergate
