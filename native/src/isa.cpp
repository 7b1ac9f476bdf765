// CPU and OS feature detection. Compiled WITHOUT instruction-set flags: it must run on every CPU.
#include "fffbert/isa.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#define FFFBERT_X86 1
#if defined(_MSC_VER)
#include <immintrin.h>
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#endif

#if FFFBERT_X86 && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#if defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace fffbert {
namespace {

#if FFFBERT_X86
void cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
#if defined(_MSC_VER)
  int regs[4];
  __cpuidex(regs, int(leaf), int(sub));
  for (int i = 0; i < 4; ++i) r[i] = unsigned(regs[i]);
#else
  __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
#endif
}

// XCR0: which register states the OS saves on context switch.
uint64_t xgetbv0() {
#if defined(_MSC_VER)
  return _xgetbv(0);
#else
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t(hi) << 32) | lo;
#endif
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#if FFFBERT_X86
  unsigned r[4];
  cpuid(0, 0, r);
  const unsigned max_leaf = r[0];
  if (max_leaf < 1) return f;
  cpuid(1, 0, r);
  const bool osxsave = (r[2] >> 27) & 1;
  const bool avx = (r[2] >> 28) & 1;
  const bool fma = (r[2] >> 12) & 1;
  const bool f16c = (r[2] >> 29) & 1;
  if (!osxsave || !avx) return f;
  const uint64_t xcr0 = xgetbv0();
  const bool os_ymm = (xcr0 & 0x6) == 0x6;    // SSE + AVX state
  const bool os_zmm = (xcr0 & 0xe6) == 0xe6;  // + opmask, ZMM_Hi256, Hi16_ZMM
  if (!os_ymm || max_leaf < 7) return f;
  cpuid(7, 0, r);
  const unsigned ebx7 = r[1], ecx7 = r[2], edx7 = r[3];
  unsigned eax71[4];
  cpuid(7, 1, eax71);
  f.avx2 = (ebx7 >> 5) & 1;
  f.avx_vnni = f.avx2 && ((eax71[0] >> 4) & 1);
  const bool os_tile = (xcr0 & 0x60000) == 0x60000;  // XTILECFG + XTILEDATA
  f.amx_tile = os_tile && ((edx7 >> 24) & 1);
  f.amx_int8 = f.amx_tile && ((edx7 >> 25) & 1);
  f.amx_bf16 = f.amx_tile && ((edx7 >> 22) & 1);
  f.fma = fma;
  f.f16c = f16c;
  if (os_zmm) {
    f.avx512f = (ebx7 >> 16) & 1;
    f.avx512dq = (ebx7 >> 17) & 1;
    f.avx512bw = (ebx7 >> 30) & 1;
    f.avx512vl = (ebx7 >> 31) & 1;
    f.avx512_bf16 = f.avx512f && ((eax71[0] >> 5) & 1);
    f.avx512_vnni = f.avx512f && ((ecx7 >> 11) & 1);
  }
#elif defined(__aarch64__) || defined(_M_ARM64)
  f.neon = true;  // baseline on AArch64
#if defined(__linux__) && defined(HWCAP2_BF16)
  f.neon_bf16 = (getauxval(AT_HWCAP2) & HWCAP2_BF16) != 0;
#endif
#if defined(__linux__) && defined(HWCAP_ASIMDDP)
  f.neon_dotprod = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#endif
#if defined(__linux__) && defined(HWCAP2_I8MM)
  f.neon_i8mm = (getauxval(AT_HWCAP2) & HWCAP2_I8MM) != 0;
#endif
#endif
  return f;
}

CacheSizes detect_caches() {
  CacheSizes c;
#if FFFBERT_X86
  unsigned r[4];
  cpuid(0, 0, r);
  const unsigned max_leaf = r[0];
  const bool amd = r[1] == 0x68747541u && r[3] == 0x69746e65u && r[2] == 0x444d4163u;  // "AuthenticAMD"
  unsigned leaf = 4;
  if (amd) {
    cpuid(0x80000000u, 0, r);
    if (r[0] < 0x8000001Du) return c;
    cpuid(0x80000001u, 0, r);
    if (!((r[2] >> 22) & 1)) return c;  // no topology extensions: no leaf 0x8000001D
    leaf = 0x8000001Du;
  } else if (max_leaf < 4) {
    return c;
  }
  unsigned last = 0;
  for (unsigned i = 0; i < 16; ++i) {
    cpuid(leaf, i, r);
    const unsigned type = r[0] & 31;  // 0: no more caches; 1 data, 2 instruction, 3 unified
    if (type == 0) break;
    if (type == 2) continue;
    const unsigned level = (r[0] >> 5) & 7;
    const int64_t bytes = int64_t((r[1] >> 22) + 1) * int64_t(((r[1] >> 12) & 0x3ff) + 1) *
                          int64_t((r[1] & 0xfff) + 1) * (int64_t(r[2]) + 1);
    if (level == 2) c.l2 = bytes;
    if (level >= 2 && level >= last) {  // the highest level
      last = level;
      c.llc = bytes;
    }
  }
#endif
  return c;
}

bool compiled_in(Isa isa) {
  switch (isa) {
    case Isa::scalar: return true;
#if defined(FFFBERT_HAVE_AVX2)
    case Isa::avx2: return true;
#endif
#if defined(FFFBERT_HAVE_AVX512)
    case Isa::avx512: return true;
#endif
#if defined(FFFBERT_HAVE_NEON)
    case Isa::neon: return true;
#endif
    default: return false;
  }
}

}  // namespace

const CacheSizes& cache_sizes() {
  static const CacheSizes c = detect_caches();
  return c;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

bool amx_permitted() {
  static const bool ok = [] {
    if (!cpu_features().amx_int8) return false;
#if FFFBERT_X86 && defined(__linux__) && defined(SYS_arch_prctl)
    constexpr int kReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kReqXcompPerm, kXfeatureXtiledata) == 0;
#else
    return false;
#endif
  }();
  return ok;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar: return "scalar";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
    case Isa::neon: return "neon";
  }
  return "unknown";
}

bool isa_parse(const char* name, Isa* out) {
  if (!name) return false;
  for (int i = 0; i < kIsaCount; ++i) {
    if (std::strcmp(name, isa_name(Isa(i))) == 0) {
      *out = Isa(i);
      return true;
    }
  }
  return false;
}

bool isa_supported(Isa isa) {
  if (!compiled_in(isa)) return false;
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::scalar: return true;
    case Isa::avx2: return f.avx2 && f.fma && f.f16c;
    case Isa::avx512: return f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl && f.avx2 && f.fma;
    case Isa::neon: return f.neon;
  }
  return false;
}

Isa isa_best() {
  static const Isa best = [] {
    for (Isa i : {Isa::avx512, Isa::avx2, Isa::neon}) {
      if (isa_supported(i)) return i;
    }
    return Isa::scalar;
  }();
  return best;
}

namespace {
std::atomic<int> g_forced{-1};
}  // namespace

bool isa_apply_env() {
  static const bool ok = [] {  // thread-safe once: concurrent first callers all wait for this result
    const char* env = std::getenv("FFFBERT_ISA");
    if (!env || !*env) return true;
    Isa isa;
    if (!isa_parse(env, &isa) || !isa_supported(isa)) return false;
    g_forced.store(int(isa));
    return true;
  }();
  return ok;
}

Isa isa_runnable(Isa isa) { return isa_supported(isa) ? isa : Isa::scalar; }

Isa isa_active() {
  isa_apply_env();
  const int forced = g_forced.load(std::memory_order_relaxed);
  return forced >= 0 ? Isa(forced) : isa_best();
}

bool isa_set_active(Isa isa) {
  if (!isa_supported(isa)) return false;
  isa_apply_env();
  g_forced.store(int(isa));
  return true;
}

}  // namespace fffbert
