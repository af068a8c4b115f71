// A SystemC kernel elaborates once per process, so a test that simulates
// runs its scenario in a forked child (gtest's EXPECT_EXIT) and reports
// back through the exit code.
#pragma once

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <functional>

namespace virtiosim::test {

// Runs `scenario` (build the modules, sc_start) in this forked process and
// exits: 0 if no expectation failed, else 1 after printing each failure to
// stderr, so the parent's report of the exit shows which and why.
[[noreturn]] inline void run_scenario(const std::function<void()>& scenario) {
  setenv("SC_COPYRIGHT_MESSAGE", "DISABLE", 1);
  ::testing::TestPartResultArray results;
  int failures = 0;
  {
    ::testing::ScopedFakeTestPartResultReporter intercept(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ALL_THREADS, &results);
    scenario();
  }
  for (int i = 0; i < results.size(); ++i) {
    const ::testing::TestPartResult& r = results.GetTestPartResult(i);
    if (!r.failed()) continue;
    ++failures;
    std::fprintf(stderr, "%s:%d: %s\n", r.file_name() ? r.file_name() : "?", r.line_number(), r.message());
  }
  std::fflush(stderr);
  std::_Exit(failures ? 1 : 0);
}

}  // namespace virtiosim::test
