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
}  // namespace fffbert_test

int main(int argc, char** argv) {
  using namespace fffbert_test;
  const char* filter = argc > 1 ? argv[1] : nullptr;
  std::printf("native tests; supported ISAs:");
  for (int i = 0; i < fffbert::kIsaCount; ++i) {
    if (fffbert::isa_supported(fffbert::Isa(i))) std::printf(" %s", fffbert::isa_name(fffbert::Isa(i)));
  }
  std::printf("\n");
  int passed = 0, failed = 0;
  for (const TestCase& t : registry()) {
    if (filter && !std::strstr(t.name, filter)) continue;
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
