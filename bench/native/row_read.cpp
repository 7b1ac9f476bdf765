// How fast a core reads 3 KB rows (one fp32 row of 768) in address order against in a random order, and what a
// software prefetch of the row `ahead` rows later does, into L1 (T0) or into L2 (T1) (issue 10: the FFF walk
// reads its rows in an order set by its input; the benchmark's limit reads them both ways). Each thread reads a
// buffer of its own (on huge pages where the OS gives them), `mb` MB in all; prints GB/s over all threads.
//   g++ -O2 -march=native -std=c++17 bench/native/row_read.cpp -lpthread -o build/row_read
//   flock /tmp/bench.lock build/row_read [mb=64] [threads=1] [row_bytes=3072]
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

namespace {

constexpr size_t kHuge = size_t(2) << 20;

enum class Prefetch { none, l1, l2 };

// Bytes per second one thread reads from `rows` rows of `row` bytes, in `order`, for `seconds`.
double read_rows(const float* buf, size_t row, const std::vector<size_t>& order, Prefetch pf, size_t ahead,
                 double seconds, float* sink) {
  const size_t n = row / sizeof(float);
  float acc[16] = {};
  double bytes = 0.0, elapsed = 0.0;
  const auto t0 = std::chrono::steady_clock::now();
  do {
    for (size_t i = 0; i < order.size(); ++i) {
      if (pf != Prefetch::none) {
        const char* q = reinterpret_cast<const char*>(buf + order[(i + ahead) % order.size()] * n);
        for (size_t b = 0; b < row; b += 64) {
          if (pf == Prefetch::l1) {
            __builtin_prefetch(q + b, 0, 3);
          } else {
            __builtin_prefetch(q + b, 0, 2);
          }
        }
      }
      const float* p = buf + order[i] * n;
      for (size_t e = 0; e < n; e += 16) {
        for (size_t a = 0; a < 16; ++a) acc[a] += p[e + a];
      }
    }
    bytes += double(order.size() * row);
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (elapsed < seconds);
  for (float a : acc) *sink += a;
  return bytes / elapsed;
}

double run(size_t total, int threads, size_t row, bool shuffled, Prefetch pf, size_t ahead) {
  std::vector<double> rate(size_t(threads), 0.0);
  std::vector<float> sink(size_t(threads), 0.0f);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      const size_t rows = std::max<size_t>(16, total / size_t(threads) / row);
      const size_t bytes = (rows * row + kHuge - 1) / kHuge * kHuge;
      float* buf = static_cast<float*>(std::aligned_alloc(kHuge, bytes));
      if (!buf) return;
      madvise(buf, bytes, MADV_HUGEPAGE);
      std::fill(buf, buf + bytes / sizeof(float), 1.0f);
      std::vector<size_t> order(rows);
      std::iota(order.begin(), order.end(), size_t(0));
      if (shuffled) std::shuffle(order.begin(), order.end(), std::mt19937(unsigned(t + 1)));
      read_rows(buf, row, order, pf, ahead, 0.05, &sink[size_t(t)]);  // warm-up
      rate[size_t(t)] = read_rows(buf, row, order, pf, ahead, 0.4, &sink[size_t(t)]);
      std::free(buf);
    });
  }
  for (std::thread& th : pool) th.join();
  double sum = 0.0;
  for (double r : rate) sum += r;
  return sum / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  const double mb = argc > 1 ? std::atof(argv[1]) : 64.0;
  const int threads = argc > 2 ? std::max(1, std::atoi(argv[2])) : 1;
  const size_t row = argc > 3 ? std::max<size_t>(64, size_t(std::atol(argv[3])) / 64 * 64) : 3072;
  const size_t total = size_t(mb * 1024 * 1024);
  std::printf("%.0f MB, %d thread(s), rows of %zu bytes, GB/s\n", mb, threads, row);
  for (bool shuffled : {false, true}) {
    std::printf("%-9s no prefetch %6.1f", shuffled ? "random" : "in order",
                run(total, threads, row, shuffled, Prefetch::none, 0));
    for (size_t ahead : {1, 4}) {
      std::printf(" | %zu ahead: L1 %6.1f L2 %6.1f", ahead, run(total, threads, row, shuffled, Prefetch::l1, ahead),
                  run(total, threads, row, shuffled, Prefetch::l2, ahead));
    }
    std::printf("\n");
  }
  return 0;
}
