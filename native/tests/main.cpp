#include <cstring>
#include <memory>

#include "fffbert/isa.h"
#include "test.h"

namespace fffbert_test {
std::vector<TestCase>& registry() {
  static std::vector<TestCase> r;
  return r;
}
int& current_failures() {
  static int n = 0;
  return n;
}
fffbert::ThreadPool& pool(int threads) {
  static std::unique_ptr<fffbert::ThreadPool> pools[4];
  if (!pools[threads]) pools[threads] = fffbert::make_pool(threads);
  return *pools[threads];
}
std::vector<fffbert::Isa> runnable_isas(bool report_skipped) {
  std::vector<fffbert::Isa> v;
  for (int i = 0; i < fffbert::kIsaCount; ++i) {
    if (fffbert::isa_supported(fffbert::Isa(i))) {
      v.push_back(fffbert::Isa(i));
    } else if (report_skipped) {
      std::printf("     skipped: %s not supported on this CPU (or not built for this architecture)\n",
                  fffbert::isa_name(fffbert::Isa(i)));
    }
  }
  return v;
}
}  // namespace fffbert_test

int main(int argc, char** argv) {
  using namespace fffbert_test;
  // Arguments: name filters; a test runs when its name contains any of them (all tests without one).
  auto selected = [&](const char* name) {
    for (int i = 1; i < argc; ++i) {
      if (std::strstr(name, argv[i])) return true;
    }
    return argc <= 1;
  };
  std::printf("native tests; supported ISAs:");
  for (int i = 0; i < fffbert::kIsaCount; ++i) {
    if (fffbert::isa_supported(fffbert::Isa(i))) std::printf(" %s", fffbert::isa_name(fffbert::Isa(i)));
  }
  std::printf("\n");
  int passed = 0, failed = 0;
  for (const TestCase& t : registry()) {
    if (!selected(t.name)) continue;
    current_failures() = 0;
    t.fn();
    if (current_failures() == 0) {
      ++passed;
      std::printf("ok   %s\n", t.name);
    } else {
      ++failed;
      std::printf("FAIL %s (%d checks)\n", t.name, current_failures());
    }
    std::fflush(stdout);
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 && passed > 0 ? 0 : 1;
}
