// Scalar-generic Eigen typedefs shared by every kernel.
#pragma once

#include <Eigen/Core>

#include <cstdint>

// Vector element functions must inline into their loops: a call that the
// inliner leaves runs scalar (random.hpp) or serializes packets (activation.hpp).
//
// Loops over a register tile's rows and packets are unrolled before GCC
// decides where the accumulators live: left as loops, they index the array,
// which GCC then keeps on the stack, storing and reloading all of it around
// every tile (gemm.hpp: 128×64·64×64 on one Zen 3 core 42.4 → 45.6 GFLOP/s
// once unrolled; 128×8·8×64, where that cost comes every 8 steps of k, 22 → 31).
// A rare path goes out of line (WEIGHTNOISE_NOINLINE) so that the hot one needs no stack frame.
#if defined(__GNUC__)
#define WEIGHTNOISE_SIMD_INLINE inline __attribute__((always_inline))
#define WEIGHTNOISE_NOINLINE __attribute__((noinline))
#define WEIGHTNOISE_UNROLL _Pragma("GCC unroll 16")
#else
#define WEIGHTNOISE_SIMD_INLINE inline
#define WEIGHTNOISE_NOINLINE
#define WEIGHTNOISE_UNROLL
#endif

namespace weightnoise {

using Index = Eigen::Index;

// Row-major so that C-contiguous NumPy arrays map without copies.
template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;

template <class T>
using MatrixRef = Eigen::Ref<RowMatrix<T>>;
template <class T>
using ConstMatrixRef = Eigen::Ref<const RowMatrix<T>>;
template <class T>
using VectorRef = Eigen::Ref<Vector<T>>;
template <class T>
using ConstVectorRef = Eigen::Ref<const Vector<T>>;

}  // namespace weightnoise
