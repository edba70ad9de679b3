#include "common.hpp"

#ifndef WEIGHTNOISE_MODULE  // CMake names the module (_core, or _core_<level> in a dispatching build)
#define WEIGHTNOISE_MODULE _core
#define WEIGHTNOISE_VARIANT "native"
#define WEIGHTNOISE_FLAGS ""
#endif

namespace {

// The highest x86-64 microarchitecture level this CPU (and OS) supports,
// so the loader can pick the best variant of a dispatching build.
std::string cpu_level() {
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  const bool v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                  __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("f16c") &&
                  __builtin_cpu_supports("movbe");
  const bool v4 = v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
                  __builtin_cpu_supports("avx512vl");
  return v4 ? "x86_64_v4" : v3 ? "x86_64_v3" : "x86_64";
#else
  return "";
#endif
}

// The vector instruction sets this variant was compiled for (Eigen's own
// report does not tell AVX2, FMA or the AVX-512 subsets apart).
std::string simd_in_use() {
  std::string out;
  auto add = [&out](const char* name) {
    out += out.empty() ? name : std::string(" ") + name;
  };
#ifdef __SSE2__
  add("SSE2");
#endif
#ifdef __SSE4_2__
  add("SSE4.2");
#endif
#ifdef __AVX__
  add("AVX");
#endif
#ifdef __AVX2__
  add("AVX2");
#endif
#ifdef __FMA__
  add("FMA");
#endif
#ifdef __AVX512F__
  add("AVX512F");
#endif
#ifdef __AVX512DQ__
  add("AVX512DQ");
#endif
#ifdef __AVX512BW__
  add("AVX512BW");
#endif
#ifdef __AVX512VL__
  add("AVX512VL");
#endif
#if defined(__ARM_NEON) || defined(__ARM_NEON__)
  add("NEON");
#endif
  return out.empty() ? "none" : out;
}

}  // namespace

PYBIND11_MODULE(WEIGHTNOISE_MODULE, m) {
  m.doc() = "weightnoise compiled core (private: use the weightnoise package)";
  m.attr("variant") = WEIGHTNOISE_VARIANT;
  m.attr("compile_flags") = WEIGHTNOISE_FLAGS;
  m.attr("simd") = simd_in_use();
  m.attr("eigen_version") = std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) + "." +
                            std::to_string(EIGEN_MINOR_VERSION);
  m.def("cpu_level", &cpu_level);
  m.def("available", [] { return std::vector<std::string>{WEIGHTNOISE_VARIANT}; },
        "The variants in this installation (a dispatching build's loader lists its own).");
  weightnoise::bindings::bind_threads(m);
  weightnoise::bindings::bind_derivatives(m);
  weightnoise::bindings::bind_random(m);
  weightnoise::bindings::bind_noise(m);
  weightnoise::bindings::bind_train(m);
}
