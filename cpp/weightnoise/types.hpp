// Scalar-generic Eigen typedefs shared by every kernel.
#pragma once

#include <Eigen/Core>

#include <cstdint>

// Vector element functions must inline into their loops: a call that the
// inliner leaves runs scalar (random.hpp) or serializes packets (activation.hpp).
#if defined(__GNUC__)
#define WEIGHTNOISE_SIMD_INLINE inline __attribute__((always_inline))
#else
#define WEIGHTNOISE_SIMD_INLINE inline
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
