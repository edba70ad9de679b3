// Deterministic OpenMP parallelism over fixed-size chunks of examples.
//
// Work is split into chunks of kChunkRows examples whatever the thread count;
// every chunk's result goes to its own rows or its own partial sum, and
// partial sums are combined in chunk order. Results are therefore bitwise
// identical for any number of threads.
#pragma once

#include "weightnoise/types.hpp"

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

namespace weightnoise {

constexpr Index kChunkRows = 128;

// The one place the thread count is resolved: set_num_threads(n > 0) pins it,
// n <= 0 returns to OpenMP's own default (OMP_NUM_THREADS or the core count).
void set_num_threads(int n);
int num_threads();

// Threads for a loop of n_items: never more than there are items, so a small
// problem does not wake (and wait for) threads that would have nothing to do.
inline int threads_for(Index n_items) {
  const int threads = num_threads();
  return n_items < threads ? int(std::max<Index>(1, n_items)) : threads;
}

// The first 64-byte boundary at or after p (p must have 64 bytes of slack).
template <class T>
T* aligned_64(T* p) {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  return reinterpret_cast<T*>((address + 63) / 64 * 64);
}

// A check that long kernels make between pieces of work, on the calling
// thread and outside any parallel region; true asks the kernel to stop. The
// bindings make it poll Python's signal handlers, so Ctrl-C stops a kernel.
using Interrupt = std::function<bool()>;

inline Index n_chunks(Index n_rows) { return (n_rows + kChunkRows - 1) / kChunkRows; }

// body(begin, rows, thread) for every chunk [begin, begin + rows) of n_rows.
template <class Body>
void for_each_chunk(Index n_rows, Body&& body) {
  const Index chunks = n_chunks(n_rows);
#pragma omp parallel for schedule(static) num_threads(threads_for(chunks))
  for (Index c = 0; c < chunks; ++c) {
    const Index begin = c * kChunkRows;
    body(begin, std::min(kChunkRows, n_rows - begin), omp_get_thread_num());
  }
}

// body(item, thread) for item = 0 … n_items−1.
template <class Body>
void for_each_item(Index n_items, Body&& body) {
#pragma omp parallel for schedule(static) num_threads(threads_for(n_items))
  for (Index i = 0; i < n_items; ++i) body(i, omp_get_thread_num());
}

// total (length width) = Σ over chunks (of chunk_rows ≤ kChunkRows rows), in chunk order, of the partial that
// body(begin, rows, thread, partial) writes (it must overwrite all of it).
// Chunks run in waves whose size depends on width only, which bounds the
// memory of the partials without making the order depend on threads. Each
// partial starts on a 64-byte boundary: Eigen's vectorized reductions peel
// by alignment, so a partial's alignment must not vary from run to run.
// Returns false if stop() asked to stop between two waves (total is then partial).
template <class T, class Body>
bool sum_over_chunks(Index n_rows, Index width, T* total, Body&& body, const Interrupt& stop = {},
                     Index chunk_rows = kChunkRows) {
  constexpr Index kBudgetBytes = Index(64) << 20;
  constexpr Index kAlign = 64 / Index(sizeof(T));
  const Index stride = (width + kAlign - 1) / kAlign * kAlign;
  const Index chunks = (n_rows + chunk_rows - 1) / chunk_rows;
  const Index wave = std::clamp<Index>(kBudgetBytes / (stride * Index(sizeof(T))), 8, 64);
  Eigen::Matrix<T, Eigen::Dynamic, 1> storage(std::min(wave, chunks) * stride + kAlign);
  T* partials = aligned_64(storage.data());
  std::fill(total, total + width, T(0));
  for (Index first = 0; first < chunks; first += wave) {
    if (first > 0 && stop && stop()) return false;
    const Index count = std::min(wave, chunks - first);
#pragma omp parallel num_threads(threads_for(count))
    {
#pragma omp for schedule(static)
      for (Index c = 0; c < count; ++c) {
        const Index begin = (first + c) * chunk_rows;
        body(begin, std::min(chunk_rows, n_rows - begin), omp_get_thread_num(), partials + c * stride);
      }
      // Each entry is summed over the wave's chunks in chunk order.
#pragma omp for schedule(static)
      for (Index j = 0; j < width; ++j) {
        T s = total[j];
        for (Index c = 0; c < count; ++c) s += partials[c * stride + j];
        total[j] = s;
      }
    }
  }
  return true;
}

// One workspace per thread, allocated before any parallel region.
template <class W, class... Args>
std::vector<W> per_thread(const Args&... args) {
  std::vector<W> ws;
  const int threads = num_threads();
  ws.reserve(threads);
  for (int t = 0; t < threads; ++t) ws.emplace_back(args...);
  return ws;
}

}  // namespace weightnoise
