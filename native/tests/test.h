// A minimal test harness for the native kernel tests (no dependency, so it cross-compiles for aarch64 and runs
// under qemu-user). TEST(name) { ... } registers a test; CHECK(cond) / CHECK_MSG(cond, fmt, ...) record failures
// without aborting. main.cpp runs every test (or those whose name contains argv[1]) and prints
// "N passed, N failed".
#pragma once
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "fffbert/isa.h"
#include "fffbert/pool.h"

namespace fffbert_test {

// Process-wide pools of 1, 2 and 3 threads for the tests that compare thread counts.
fffbert::ThreadPool& pool(int threads);

// The instruction sets this CPU runs, scalar first; with report_skipped, prints a skip line for each other one.
std::vector<fffbert::Isa> runnable_isas(bool report_skipped);

struct TestCase {
  const char* name;
  void (*fn)();
};
std::vector<TestCase>& registry();
struct Registrar {
  Registrar(const char* name, void (*fn)()) { registry().push_back({name, fn}); }
};
// Failures of the running test.
int& current_failures();

}  // namespace fffbert_test

#define FFFBERT_TEST_CAT2(a, b) a##b
#define FFFBERT_TEST_CAT(a, b) FFFBERT_TEST_CAT2(a, b)
#define TEST(name)                                                                   \
  static void name();                                                                \
  static ::fffbert_test::Registrar FFFBERT_TEST_CAT(registrar_, name)(#name, &name); \
  static void name()

#define CHECK_MSG(cond, ...)                                                            \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      if (++::fffbert_test::current_failures() <= 10) {                                 \
        std::fprintf(stderr, "  %s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
        std::fprintf(stderr, __VA_ARGS__);                                              \
        std::fprintf(stderr, "\n");                                                     \
      }                                                                                 \
    }                                                                                   \
  } while (0)
#define CHECK(cond) CHECK_MSG(cond, "%s", "")
