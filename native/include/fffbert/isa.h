// Instruction-set detection and selection for the compute core.
//
// Detection (isa.cpp) is compiled without any ISA flags and runs once: on x86 it checks CPUID *and* that the OS
// saves the wider registers (XCR0 via xgetbv); on aarch64 NEON is baseline. The active set starts as the best
// supported one, or FFFBERT_ISA=scalar|avx2|avx512|neon when that names a supported set.
#pragma once
#include <cstdint>

namespace fffbert {

enum class Isa : int { scalar = 0, avx2 = 1, avx512 = 2, neon = 3 };
constexpr int kIsaCount = 4;

const char* isa_name(Isa isa);
// Parses "scalar" | "avx2" | "avx512" | "neon"; false for anything else.
bool isa_parse(const char* name, Isa* out);
// Compiled into this binary *and* runnable on this CPU/OS.
bool isa_supported(Isa isa);
// The best supported set (what is active unless forced).
Isa isa_best();
// The set the drivers use when not told otherwise.
Isa isa_active();
// Forces the active set; false (and no change) when it is not supported.
bool isa_set_active(Isa isa);
// Applies FFFBERT_ISA (once per process; later calls return the first result): false when the variable names an
// unknown or unsupported set, which is then ignored.
bool isa_apply_env();
// The set a driver runs for `isa`: `isa` itself when supported here, else scalar. Every driver (FFF and dense)
// falls back through this one rule, so a set the CPU cannot run never reaches an illegal instruction.
Isa isa_runnable(Isa isa);

// CPU features beyond the ISA tiers, for kernels that can use them (bf16 paths).
struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512dq = false, avx512vl = false, avx512_bf16 = false;
  bool neon = false, neon_bf16 = false;
  // Dot-product and matrix units of the int8 / bf16 dense layers (dense.h LinearDtype). amx_*: the CPU has
  // them and the OS enables tile state in XCR0; using them still needs the per-process permission request.
  bool avx512_vnni = false, avx_vnni = false, amx_tile = false, amx_int8 = false, amx_bf16 = false;
  bool neon_dotprod = false, neon_i8mm = false;
};
const CpuFeatures& cpu_features();

// Data cache sizes one core sees, in bytes (0 where unknown): its L2, and its last level (the L3 it shares with the
// other cores of its CCD or socket), from CPUID's deterministic cache parameters (leaf 4 on Intel, 0x8000001D on
// AMD). x86 only; 0 elsewhere.
struct CacheSizes {
  int64_t l2 = 0, llc = 0;
};
const CacheSizes& cache_sizes();
// AMX tiles usable by this process: the CPU has AMX-INT8 with tile state enabled and Linux granted the tile data
// permission (arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA), requested once, on first call). False
// elsewhere, and when refused (kernels before 5.16): the int8 layers then run the next kernel (VNNI).
bool amx_permitted();

}  // namespace fffbert
