// C = A·B (+ a bias row) for the small row-major products of one chunk: A is
// (rows × k), B (k × n), C (rows × n), with k and n layer widths (tens to a
// few hundred) and rows = kChunkRows.
//
// Eigen's general product packs A and B on every call and reaches about 70%
// of the FMA peak at these sizes; here a register tile of kTileRows rows and
// kTilePackets packets of C stays in registers while k runs, A's entries are
// broadcast straight from their rows and B's rows are loaded in place, which
// reaches the peak (measured: 38 → 55 GFLOP/s for 128×64·64×64 on one core).
// Every entry of C is Σ_k in order k = 0, 1, …, so results do not depend on
// the thread count.
#pragma once

#include "weightnoise/types.hpp"

#include <algorithm>

namespace weightnoise::gemm {

template <class T>
using Packet = typename Eigen::internal::packet_traits<T>::type;

template <class T>
constexpr Index kPacket = Index(Eigen::internal::unpacket_traits<Packet<T>>::size);

// Tile shape by register count: 8×2 packets with 32 vector registers
// (AVX-512: 16 accumulators), 6×2 with 16 (AVX2/SSE: 12 accumulators).
constexpr int kTileRows = EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS >= 32 ? 8 : 6;
constexpr int kTilePackets = 2;

// Whether B rows of n entries can be read as whole packets in place, or need
// a padded copy (see multiply).
template <class T>
bool whole_packets(Index n) {
  return n % kPacket<T> == 0;
}

// n rounded up to whole packets: the row length of a padded copy of B.
template <class T>
Index padded(Index n) {
  return (n + kPacket<T> - 1) / kPacket<T> * kPacket<T>;
}

// One MR × NP-packet tile of C at c: its first `cols` columns are stored
// (and, with add, read first: C += A·B). A is row-major with row stride lda,
// or with TransposedA the transpose of such a matrix: A(r, i) = a[i·lda + r].
template <class T, int MR, int NP, bool TransposedA>
void tile(const T* a, Index lda, const T* b, Index ldb, const T* bias, Index k, T* c, Index ldc, Index cols,
          bool add) {
  using namespace Eigen::internal;
  using P = Packet<T>;
  constexpr Index W = kPacket<T>;
  P acc[MR][NP];
  T buffer[NP * W] = {};  // a tile that reaches past n: its valid columns only
  for (int r = 0; r < MR; ++r) {
    const T* start = c + r * ldc;
    if (add && cols < NP * W) start = std::copy(start, start + cols, buffer) - cols;
    for (int p = 0; p < NP; ++p) {
      acc[r][p] = add ? ploadu<P>(start + p * W) : pset1<P>(T(0));
      if (bias) acc[r][p] = padd(acc[r][p], ploadu<P>(bias + p * W));
    }
  }
  for (Index i = 0; i < k; ++i) {
    P row[NP];
    for (int p = 0; p < NP; ++p) row[p] = ploadu<P>(b + i * ldb + p * W);
    for (int r = 0; r < MR; ++r) {
      const P x = pset1<P>(TransposedA ? a[i * lda + r] : a[r * lda + i]);
      for (int p = 0; p < NP; ++p) acc[r][p] = pmadd(x, row[p], acc[r][p]);
    }
  }
  if (cols == NP * W) {
    for (int r = 0; r < MR; ++r)
      for (int p = 0; p < NP; ++p) pstoreu(c + r * ldc + p * W, acc[r][p]);
    return;
  }
  for (int r = 0; r < MR; ++r) {
    for (int p = 0; p < NP; ++p) pstoreu(buffer + p * W, acc[r][p]);
    std::copy(buffer, buffer + cols, c + r * ldc);
  }
}

template <class T, int NP, bool TransposedA>
void column_block(const T* a, Index lda, const T* b, Index ldb, const T* bias, Index rows, Index k, T* c,
                  Index ldc, Index cols, bool add) {
  Index r = 0;
  const Index step = TransposedA ? 1 : lda;  // from one row of A to the next
  for (; r + kTileRows <= rows; r += kTileRows)
    tile<T, kTileRows, NP, TransposedA>(a + r * step, lda, b, ldb, bias, k, c + r * ldc, ldc, cols, add);
  for (; r < rows; ++r) tile<T, 1, NP, TransposedA>(a + r * step, lda, b, ldb, bias, k, c + r * ldc, ldc, cols, add);
}

// C = A·B + 1·biasᵀ, or with add C += A·B + 1·biasᵀ (bias may be null). B's
// rows, and the bias, must be readable to padded(n) entries: whole_packets(n),
// or a padded copy. With TransposedA, a holds Aᵀ (k × rows, row stride lda).
template <class T, bool TransposedA = false>
void multiply(const T* a, Index lda, const T* b, Index ldb, const T* bias, Index rows, Index k, Index n, T* c,
              Index ldc, bool add = false) {
  constexpr Index W = kPacket<T>, block = kTilePackets * W;
  Index j = 0;
  for (; j + block <= padded<T>(n); j += block)
    column_block<T, kTilePackets, TransposedA>(a, lda, b + j, ldb, bias ? bias + j : nullptr, rows, k, c + j, ldc,
                                  std::min(block, n - j), add);
  for (; j < n; j += W)
    column_block<T, 1, TransposedA>(a, lda, b + j, ldb, bias ? bias + j : nullptr, rows, k, c + j, ldc, std::min(W, n - j),
                       add);
}

}  // namespace weightnoise::gemm
