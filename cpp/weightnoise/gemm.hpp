// C = A·B (+ a bias row) for the small row-major products of one chunk: A is
// (rows × k), B (k × n), C (rows × n), with k and n layer widths (tens to a
// few hundred) and rows = kChunkRows.
//
// Eigen's general product packs A and B on every call and reaches about 70%
// of the FMA peak at these sizes; here a register tile of kTileRows rows and
// kTilePackets packets of C stays in registers while k runs, A's entries are
// broadcast straight from their rows and B's rows are loaded from a copy
// with an L1-friendly row stride (leading_dimension, panel_of), which reaches
// the peak (measured: 38 → 55 GFLOP/s for 128×64·64×64 on one core).
// Every entry of C is Σ_k in order k = 0, 1, …, so results do not depend on
// the thread count.
#pragma once

#include "weightnoise/types.hpp"

#include <algorithm>
#include <utility>

namespace weightnoise::gemm {

template <class T>
using Packet = typename Eigen::internal::packet_traits<T>::type;

template <class T>
constexpr Index kPacket = Index(Eigen::internal::unpacket_traits<Packet<T>>::size);

// Tile shape by register count: 8×2 packets with 32 vector registers
// (AVX-512: 16 accumulators), 6×2 with 16 (AVX2/SSE: 12 accumulators).
constexpr int kTileRows = EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS >= 32 ? 8 : 6;
constexpr int kTilePackets = 2;
// Packets of a one-row tile: as many accumulators as a whole tile, less the registers B's rows take.
constexpr int kWidePackets = EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS >= 32 ? 16 : 8;

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

// The row stride of a copy of B (rows of n entries) that gemm reads well:
// whole packets, and not a multiple of 256 bytes. Rows a multiple of 256
// bytes apart fall into a sixteenth or less of L1's 64 sets (8 ways each on
// Zen 3, 12 on recent Intel cores): a 64 × 64 float64 B at 512 bytes per row
// lands in 8 sets, which its 64 lines fill on Zen 3, so A's lines evict it.
// One tile's product 128×64·64×64 on one Zen 3 core: 40.1 GFLOP/s at a
// stride of 64 entries, 42.0 at 68.
template <class T>
Index leading_dimension(Index n) {
  const Index ld = padded<T>(n);
  return ld * Index(sizeof(T)) % 256 == 0 ? ld + kPacket<T> : ld;
}

// What multiply does with a product A·B: C = scale·A·B + bias, or with add
// C += scale·A·B + bias. bias (a row, added to every row of C) may be null.
template <class T>
struct Update {
  T scale = T(1);
  bool add = false;
  const T* bias = nullptr;
};

// Rows of cols entries from one row stride to another.
template <class T>
void copy_columns(const T* from, Index from_ld, T* to, Index to_ld, Index rows, Index cols) {
  for (Index r = 0; r < rows; ++r) std::copy(from + r * from_ld, from + r * from_ld + cols, to + r * to_ld);
}

template <class T, int MR, int NP, bool TransposedA>
void tile(const T* a, Index lda, const T* b, Index ldb, Index k, T* c, Index ldc, Index cols, const Update<T>& u);

// A tile that reaches past n: the whole tile into a buffer, then its valid
// columns; out of line, so that tile itself needs no stack frame.
template <class T, int MR, int NP, bool TransposedA>
WEIGHTNOISE_NOINLINE void partial_tile(const T* a, Index lda, const T* b, Index ldb, Index k, T* c, Index ldc,
                                       Index cols, const Update<T>& u) {
  constexpr Index width = NP * kPacket<T>;
  T buffer[MR * width] = {};
  if (u.add) copy_columns<T>(c, ldc, buffer, width, MR, cols);
  tile<T, MR, NP, TransposedA>(a, lda, b, ldb, k, buffer, width, width, u);
  copy_columns<T>(buffer, width, c, ldc, MR, cols);
}

// One MR × NP-packet tile of C at c, of which the first `cols` columns are
// written. A is row-major with row stride lda, or with TransposedA the
// transpose of such a matrix: A(r, i) = a[i·lda + r].
template <class T, int MR, int NP, bool TransposedA>
void tile(const T* a, Index lda, const T* b, Index ldb, Index k, T* c, Index ldc, Index cols, const Update<T>& u) {
  using namespace Eigen::internal;
  using P = Packet<T>;
  constexpr Index W = kPacket<T>;
  if (cols != NP * W) return partial_tile<T, MR, NP, TransposedA>(a, lda, b, ldb, k, c, ldc, cols, u);
  P acc[MR][NP];
  WEIGHTNOISE_UNROLL for (int r = 0; r < MR; ++r)
    WEIGHTNOISE_UNROLL for (int p = 0; p < NP; ++p) acc[r][p] = pset1<P>(T(0));
  for (Index i = 0; i < k; ++i) {
    P row[NP];
    WEIGHTNOISE_UNROLL for (int p = 0; p < NP; ++p) row[p] = ploadu<P>(b + i * ldb + p * W);
    WEIGHTNOISE_UNROLL for (int r = 0; r < MR; ++r) {
      const P x = pset1<P>(TransposedA ? a[i * lda + r] : a[r * lda + i]);
      WEIGHTNOISE_UNROLL for (int p = 0; p < NP; ++p) acc[r][p] = pmadd(x, row[p], acc[r][p]);
    }
  }
  // Each of scale, add and bias is tested once per tile, not per packet
  // (stores to c may alias u, so GCC would reload and test it each time).
  if (u.scale != T(1)) {
    const P scale = pset1<P>(u.scale);
    WEIGHTNOISE_UNROLL for (int r = 0; r < MR; ++r)
      WEIGHTNOISE_UNROLL for (int p = 0; p < NP; ++p) acc[r][p] = pmul(scale, acc[r][p]);
  }
  if (u.add) {
    WEIGHTNOISE_UNROLL for (int r = 0; r < MR; ++r)
      WEIGHTNOISE_UNROLL for (int p = 0; p < NP; ++p) acc[r][p] = padd(ploadu<P>(c + r * ldc + p * W), acc[r][p]);
  }
  if (u.bias) {
    WEIGHTNOISE_UNROLL for (int p = 0; p < NP; ++p) {
      const P bias = ploadu<P>(u.bias + p * W);
      WEIGHTNOISE_UNROLL for (int r = 0; r < MR; ++r) acc[r][p] = padd(acc[r][p], bias);
    }
  }
  WEIGHTNOISE_UNROLL for (int r = 0; r < MR; ++r)
    WEIGHTNOISE_UNROLL for (int p = 0; p < NP; ++p) pstoreu(c + r * ldc + p * W, acc[r][p]);
}

// tile<T, MR, …> with MR = height, a height known only at run time (1 … kTileRows).
template <class T, int NP, bool TransposedA, int MR = kTileRows>
void tile_of_height(Index height, const T* a, Index lda, const T* b, Index ldb, Index k, T* c, Index ldc, Index cols,
                    const Update<T>& u) {
  if constexpr (MR > 1) {
    if (height != MR) return tile_of_height<T, NP, TransposedA, MR - 1>(height, a, lda, b, ldb, k, c, ldc, cols, u);
  }
  tile<T, MR, NP, TransposedA>(a, lda, b, ldb, k, c, ldc, cols, u);
}

// The rows in tiles. A tile of MR rows keeps MR·NP accumulators in flight;
// below about 8 they no longer hide the FMA latency (one product on one Zen 3
// core: 47 GFLOP/s with 5-row tiles, 45 with 6, 30 with 4; one-row tiles ran
// at a quarter of the peak). So the rows go in tiles of kTileRows and
// kTileRows − 1, as many shorter ones as make the count come out even: 128
// rows in 18 tiles of 6 and 4 of 5, 64 in 9 and 2. Fewer rows than that
// takes end in one shorter tile, or, where the rest is under half a tile, in
// two (the rest joined with the last whole tile and split evenly).
template <class T, int NP, bool TransposedA>
void column_block(const T* a, Index lda, const T* b, Index ldb, Index rows, Index k, T* c, Index ldc, Index cols,
                  const Update<T>& u) {
  const Index step = TransposedA ? 1 : lda;  // from one row of A to the next
  Index r = 0;
  const auto run = [&](Index height) {
    tile_of_height<T, NP, TransposedA>(height, a + r * step, lda, b, ldb, k, c + r * ldc, ldc, cols, u);
    r += height;
  };
  const Index shorter = (kTileRows - rows % kTileRows) % kTileRows;
  if (shorter * (kTileRows - 1) <= rows) {
    for (Index whole = (rows - shorter * (kTileRows - 1)) / kTileRows; whole > 0; --whole) run(kTileRows);
    for (Index i = 0; i < shorter; ++i) run(kTileRows - 1);
    return;
  }
  Index whole = rows / kTileRows, rest = rows % kTileRows;
  if (whole > 0 && rest > 0 && 2 * rest < kTileRows) {
    --whole;
    rest += kTileRows;
  }
  for (; whole > 0; --whole) run(kTileRows);
  if (rest > kTileRows) {  // a joined remainder: two tiles
    run(rest - rest / 2);
    run(rest / 2);
  } else if (rest > 0) {
    run(rest);
  }
}

// The panel of B that one column block reads (k rows of `width` entries from
// b) and its row stride. With TransposedA, B is a chunk's buffer (a_l, R{a_l})
// whose row stride the layer width sets, often 2^m bytes (see
// leading_dimension): its panel is first copied to a thread's contiguous
// buffer, which every tile down the column then reads (weight gradient
// 64×128·128×64 on one Zen 3 core: 36 → 40.5 GFLOP/s, the copy included).
// Otherwise B is a network's padded copy, read in place.
template <class T, bool Copy>
std::pair<const T*, Index> panel_of(const T* b, Index ldb, Index k, Index width) {
  if (!Copy || ldb == width) return {b, ldb};
  thread_local Vector<T> panel;
  if (panel.size() < k * width) panel.resize(k * width);
  using namespace Eigen::internal;
  T* out = panel.data();
  for (Index i = 0; i < k; ++i, b += ldb, out += width)  // by packets: std::copy called memmove per row
    for (Index q = 0; q < width; q += kPacket<T>) pstore<T>(out + q, ploadu<Packet<T>>(b + q));
  return {panel.data(), width};
}

// u for the columns from j on: its bias row moves with them.
template <class T>
Update<T> from_column(Update<T> u, Index j) {
  if (u.bias) u.bias += j;
  return u;
}

// C (rows × n, row stride ldc) from A (rows × k) and B (k × n, row stride
// ldb) as u says. B's rows, and the bias, must be readable to padded(n)
// entries: whole_packets(n), or a padded copy. With TransposedA, a holds Aᵀ
// (k × rows, row stride lda).
template <class T, bool TransposedA = false>
void multiply(const T* a, Index lda, const T* b, Index ldb, Index rows, Index k, Index n, T* c, Index ldc,
              const Update<T>& u = {}) {
  constexpr Index W = kPacket<T>, block = kTilePackets * W;
  Index j = 0;
  if (rows == 1) {  // one row of C (the scalar output's weight gradient): a one-row tile
    // of kTilePackets packets would be two FMA chains, each waiting on the last; with
    // kWidePackets it keeps as many in flight as a whole tile. B is read once, in place.
    constexpr Index wide = kWidePackets * W;
    for (; j + wide <= padded<T>(n); j += wide)
      tile<T, 1, kWidePackets, TransposedA>(a, lda, b + j, ldb, k, c + j, ldc, std::min(wide, n - j),
                                            from_column(u, j));
  }
  for (; j + block <= padded<T>(n); j += block) {
    const auto [panel, ld] = panel_of<T, TransposedA>(b + j, ldb, k, block);
    column_block<T, kTilePackets, TransposedA>(a, lda, panel, ld, rows, k, c + j, ldc, std::min(block, n - j),
                                               from_column(u, j));
  }
  for (; j < n; j += W) {
    const auto [panel, ld] = panel_of<T, TransposedA>(b + j, ldb, k, W);
    column_block<T, 1, TransposedA>(a, lda, panel, ld, rows, k, c + j, ldc, std::min(W, n - j), from_column(u, j));
  }
}

}  // namespace weightnoise::gemm
