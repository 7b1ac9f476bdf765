// The OpenBLAS peer of the layer benchmark (bench/layer.mjs), built only for benchmarking:
//   cc -O2 -ffp-contract=off -fopenmp openblas_ff.c -lopenblas -lm
// It is never part of the shipped addon.
//
//   openblas_ff ff   <I> <W> <O> <tokens> <threads> <reps> <min_rep_ms> <warmup_ms> [check]
//       y = W2 GELU(W1 x + b1) + b2 (exact erf GELU): cblas_sgemm (cblas_sgemv for one token), then bias +
//       GELU fused in one pass over the hidden activations (OpenMP, same thread count), then the second
//       product onto b2.
//   openblas_ff gemm <M> <N> <K> <threads> <reps> <min_rep_ms> <warmup_ms>
//       y[M,N] = x[M,K] W[N,K]^T: cblas_sgemm(RowMajor, NoTrans, Trans), the shape of nn.Linear.
//
// Data: the generator of bench/lib/rng.mjs bit for bit (FNV-1a(name) -> mulberry32 -> two 16-bit uniforms ->
// triangular variate with unit variance, in double), so every backend sees the same numbers. With `check`, it
// also prints the output of one call so that the harness can compare it with the other backends.
// Prints one JSON line: {"timesMs": [...per call...], "inner": n, "config": "..."}.
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern void openblas_set_num_threads(int);
extern char* openblas_get_config(void);

static uint32_t fnv1a(const char* s) {
  uint32_t h = 0x811c9dc5u;
  for (; *s; ++s) {
    h ^= (uint8_t)*s;
    h *= 0x01000193u;
  }
  return h;
}

static void fill_random(float* out, size_t n, const char* name, double scale, uint32_t seed) {
  uint32_t a = fnv1a(name) ^ (seed * 0x9e3779b1u);
  for (size_t i = 0; i < n; ++i) {
    a += 0x6d2b79f5u;
    uint32_t t = (a ^ (a >> 15)) * (1u | a);
    t = (t + ((t ^ (t >> 7)) * (61u | t))) ^ t;
    t ^= t >> 14;
    const double u[2] = {((t >> 16) + 0.5) / 65536.0, ((t & 0xffffu) + 0.5) / 65536.0};
    out[i] = (float)((u[0] + u[1] - 1.0) * 2.449489742783178 * scale);
  }
}

static float* alloc_f32(size_t n) {
  void* p = NULL;
  if (posix_memalign(&p, 64, n * sizeof(float) + 64) != 0) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  return (float*)p;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

typedef struct {
  long ni, nw, no, nt;  // I, W, O, tokens (`I` is a macro of complex.h, which cblas.h includes)
  float *x, *w1, *b1, *w2, *b2, *h, *y;
} Ff;

// h[T,W] = x[T,I] W1[W,I]^T, or W1 x for one token: OpenBLAS 0.3.21 sends M = 1 through the packing GEMM
// path (~10x slower here), so one token takes cblas_sgemv, as a user who knows OpenBLAS would.
static void ff_product(long m, long n, long k, const float* a, const float* w, float beta, float* c) {
  if (m == 1) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)k, 1.0f, w, (int)k, a, 1, beta, c, 1);
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, 1.0f, a, (int)k, w, (int)k, beta, c,
                (int)n);
  }
}

static void ff_run(const Ff* f) {
  ff_product(f->nt, f->nw, f->ni, f->x, f->w1, 0.0f, f->h);
  // h = GELU(h + b1), exact erf; y rows = b2 (the second product accumulates onto them).
  // Threads only where there is enough work to pay for waking them (a few tokens: the calling thread alone).
#pragma omp parallel for schedule(static) if (f->nt * f->nw >= 65536)
  for (long t = 0; t < f->nt; ++t) {
    float* row = f->h + t * f->nw;
    for (long j = 0; j < f->nw; ++j) {
      const float v = row[j] + f->b1[j];
      row[j] = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    }
    memcpy(f->y + t * f->no, f->b2, (size_t)f->no * sizeof(float));
  }
  // y[T,O] += h[T,W] W2[O,W]^T
  ff_product(f->nt, f->no, f->nw, f->h, f->w2, 1.0f, f->y);
}

typedef struct {
  long M, N, K;
  float *x, *w, *y;
} Gemm;

static void gemm_run(const Gemm* g) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g->M, (int)g->N, (int)g->K, 1.0f, g->x, (int)g->K, g->w,
              (int)g->K, 0.0f, g->y, (int)g->N);
}

// Warm-up for warmup_ms (at least 2 calls), then `reps` repetitions of `inner` calls each, inner chosen so a
// repetition lasts at least min_rep_ms. Times are per call.
static void measure(void (*fn)(const void*), const void* arg, int reps, double min_rep_ms, double warmup_ms,
                    const char* config) {
  double t0 = now_ms();
  int calls = 0;
  while (calls < 2 || now_ms() - t0 < warmup_ms) {
    fn(arg);
    ++calls;
  }
  const double per = (now_ms() - t0) / calls;
  long inner = (long)ceil(min_rep_ms / (per > 1e-6 ? per : 1e-6));
  if (inner < 1) inner = 1;
  printf("{\"config\":\"%s\",\"inner\":%ld,\"timesMs\":[", config, inner);
  for (int r = 0; r < reps; ++r) {
    const double s = now_ms();
    for (long i = 0; i < inner; ++i) fn(arg);
    printf("%s%.9g", r ? "," : "", (now_ms() - s) / inner);
  }
  char* cfg = openblas_get_config();
  printf("],\"openblas\":\"%s\"}\n", cfg ? cfg : "");
}

static void ff_thunk(const void* p) { ff_run((const Ff*)p); }
static void gemm_thunk(const void* p) { gemm_run((const Gemm*)p); }

int main(int argc, char** argv) {
  if (argc >= 10 && strcmp(argv[1], "ff") == 0) {
    Ff f;
    f.ni = atol(argv[2]);
    f.nw = atol(argv[3]);
    f.no = atol(argv[4]);
    f.nt = atol(argv[5]);
    const int threads = atoi(argv[6]);
    openblas_set_num_threads(threads);
    omp_set_num_threads(threads);
    f.x = alloc_f32((size_t)f.nt * f.ni);
    f.w1 = alloc_f32((size_t)f.nw * f.ni);
    f.b1 = alloc_f32((size_t)f.nw);
    f.w2 = alloc_f32((size_t)f.no * f.nw);
    f.b2 = alloc_f32((size_t)f.no);
    f.h = alloc_f32((size_t)f.nt * f.nw);
    f.y = alloc_f32((size_t)f.nt * f.no);
    fill_random(f.x, (size_t)f.nt * f.ni, "x", 1.0, 1);
    fill_random(f.w1, (size_t)f.nw * f.ni, "ff.in.weight", 1.0 / sqrt((double)f.ni), 1);
    fill_random(f.b1, (size_t)f.nw, "ff.in.bias", 0.1, 1);
    fill_random(f.w2, (size_t)f.no * f.nw, "ff.out.weight", 1.0 / sqrt((double)f.nw), 1);
    fill_random(f.b2, (size_t)f.no, "ff.out.bias", 0.1, 1);
    if (argc >= 11 && strcmp(argv[10], "check") == 0) {
      ff_run(&f);
      printf("{\"y\":[");
      for (long i = 0; i < f.nt * f.no; ++i) printf("%s%.9g", i ? "," : "", f.y[i]);
      printf("]}\n");
      return 0;
    }
    measure(ff_thunk, &f, atoi(argv[7]), atof(argv[8]), atof(argv[9]), "ff");
    return 0;
  }
  if (argc >= 9 && strcmp(argv[1], "gemm") == 0) {
    Gemm g;
    g.M = atol(argv[2]);
    g.N = atol(argv[3]);
    g.K = atol(argv[4]);
    openblas_set_num_threads(atoi(argv[5]));
    g.x = alloc_f32((size_t)g.M * g.K);
    g.w = alloc_f32((size_t)g.N * g.K);
    g.y = alloc_f32((size_t)g.M * g.N);
    fill_random(g.x, (size_t)g.M * g.K, "x", 1.0, 1);
    fill_random(g.w, (size_t)g.N * g.K, "gemm.weight", 1.0 / sqrt((double)g.K), 1);
    measure(gemm_thunk, &g, atoi(argv[6]), atof(argv[7]), atof(argv[8]), "gemm");
    return 0;
  }
  fprintf(stderr,
          "usage: openblas_ff ff <I> <W> <O> <tokens> <threads> <reps> <min_rep_ms> <warmup_ms> [check]\n"
          "       openblas_ff gemm <M> <N> <K> <threads> <reps> <min_rep_ms> <warmup_ms>\n");
  return 2;
}
