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
#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

namespace weightnoise {

constexpr Index kChunkRows = 128;

// The one place the thread count is resolved: set_num_threads(n > 0) pins it,
// n <= 0 returns to OpenMP's own default (OMP_NUM_THREADS or the core count).
// Inside a ThreadCountScope, num_threads() on that thread keeps the value it
// had when the scope opened.
void set_num_threads(int n);
int num_threads();

// Fixes the thread count on the calling thread for one kernel call: a kernel
// sizes its per-thread workspaces and then starts its teams, and a
// set_num_threads() from another thread in between must not change the team.
class ThreadCountScope {
 public:
  ThreadCountScope();
  ~ThreadCountScope();
  ThreadCountScope(const ThreadCountScope&) = delete;
  ThreadCountScope& operator=(const ThreadCountScope&) = delete;

 private:
  int saved_;
};

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

// A check that the calling thread makes while a kernel runs; true asks the
// kernel to stop. The bindings make it poll Python's signal handlers, so
// Ctrl-C stops a kernel.
using Interrupt = std::function<bool()>;

// Cooperative cancellation of one kernel call. The calling thread opens a
// Cancel with its check; the loops below ask it after each piece of work the
// calling thread (thread 0 of every team) finishes and, once it says stop,
// every thread skips the pieces it has not started. A stopped kernel returns
// early with incomplete outputs: whoever opened the Cancel must discard them.
class Cancel {
 public:
  explicit Cancel(Interrupt check);
  ~Cancel();
  Cancel(const Cancel&) = delete;
  Cancel& operator=(const Cancel&) = delete;

  // The Cancel the calling thread opened last, or nullptr.
  static Cancel* current();
  // Any thread: has the call been asked to stop?
  bool stopped() const { return stopped_.load(std::memory_order_relaxed); }
  // The calling thread only: ask the check; true once it has said stop.
  bool poll();

 private:
  Interrupt check_;
  std::atomic<bool> stopped_{false};
  Cancel* outer_;
};

// What a parallel loop holds of the current call's Cancel (none: never stops).
class StopToken {
 public:
  StopToken() : cancel_(Cancel::current()) {}
  bool stopped() const { return cancel_ && cancel_->stopped(); }
  // After a piece of work, inside a team: thread 0 (the calling thread) polls.
  void after_piece() const {
    if (cancel_ && omp_get_thread_num() == 0) cancel_->poll();
  }
  // Between pieces, outside any team, on the calling thread.
  bool poll() const { return cancel_ && cancel_->poll(); }

 private:
  Cancel* cancel_;
};

inline Index n_chunks(Index n_rows) { return (n_rows + kChunkRows - 1) / kChunkRows; }

// body(begin, rows, thread) for every chunk [begin, begin + rows) of n_rows.
template <class Body>
void for_each_chunk(Index n_rows, Body&& body) {
  const Index chunks = n_chunks(n_rows);
  const StopToken stop;
#pragma omp parallel for schedule(static) num_threads(threads_for(chunks))
  for (Index c = 0; c < chunks; ++c) {
    if (stop.stopped()) continue;
    const Index begin = c * kChunkRows;
    body(begin, std::min(kChunkRows, n_rows - begin), omp_get_thread_num());
    stop.after_piece();
  }
}

// body(item, thread) for item = 0 … n_items−1.
template <class Body>
void for_each_item(Index n_items, Body&& body) {
  const StopToken stop;
#pragma omp parallel for schedule(static) num_threads(threads_for(n_items))
  for (Index i = 0; i < n_items; ++i) {
    if (stop.stopped()) continue;
    body(i, omp_get_thread_num());
    stop.after_piece();
  }
}

// Entries of a sum that sum_over_chunks adds up as one piece of work.
constexpr Index kSumBlock = 512;

// What sum_over_chunks does with a finished block of the total: nothing.
struct NoFinish {
  void operator()(Index, Index) const {}
};

// Consecutive chunks that add into one partial of sum_over_chunks: at most 8,
// and at least 64 groups where there are that many chunks, so that up to 64
// threads share the work. A function of the chunk count only.
inline Index chunks_per_partial(Index chunks) { return std::clamp<Index>(chunks / 64, 1, 8); }

// total (length width) = Σ over chunks (of chunk_rows ≤ kChunkRows rows), in chunk order, of what
// body(begin, rows, thread, partial, add) puts in partial: with add false it
// overwrites all of partial with its chunk's sum, with add true it adds that
// sum to it. A group of chunks_per_partial consecutive chunks shares one
// partial (one thread, in chunk order): a large partial (a gradient) is then
// written and reduced once per group, not once per chunk, and stays in cache.
// Groups run in waves whose size depends on width only, which bounds the
// memory of the partials without making the order depend on threads. Each
// partial starts on a 64-byte boundary: Eigen's vectorized reductions peel
// by alignment, so a partial's alignment must not vary from run to run.
// finish(j0, j1) runs, in the same team, on each block [j0, j1) of kSumBlock
// entries (from 0) once its total is final; an elementwise use of the sum
// then needs no serial pass and no second team. Returns false if the call
// was stopped (total is then partial, and not every block was finished).
template <class T, class Body, class Finish = NoFinish>
bool sum_over_chunks(Index n_rows, Index width, T* total, Body&& body, Index chunk_rows = kChunkRows,
                     Finish&& finish = Finish{}) {
  constexpr Index kBudgetBytes = Index(64) << 20;
  constexpr Index kAlign = 64 / Index(sizeof(T));
  const Index stride = (width + kAlign - 1) / kAlign * kAlign;
  const Index chunks = (n_rows + chunk_rows - 1) / chunk_rows;
  const Index group = chunks_per_partial(chunks), groups = (chunks + group - 1) / group;
  const Index wave = std::clamp<Index>(kBudgetBytes / (stride * Index(sizeof(T))), 8, 64);
  Eigen::Matrix<T, Eigen::Dynamic, 1> storage(std::min(wave, groups) * stride + kAlign);
  T* partials = aligned_64(storage.data());
  std::fill(total, total + width, T(0));
  const StopToken stop;
  for (Index first = 0; first < groups; first += wave) {
    if (stop.stopped()) return false;
    const Index count = std::min(wave, groups - first);
#pragma omp parallel num_threads(threads_for(count))
    {
#pragma omp for schedule(static)
      for (Index g = 0; g < count; ++g) {
        const Index c0 = (first + g) * group, c1 = std::min(chunks, c0 + group);
        for (Index c = c0; c < c1 && !stop.stopped(); ++c) {
          const Index begin = c * chunk_rows;
          body(begin, std::min(chunk_rows, n_rows - begin), omp_get_thread_num(), partials + g * stride, c > c0);
          stop.after_piece();
        }
      }
      // Each entry is summed over the wave's partials in group order, a block
      // of entries at a time: the loop over entries is the vectorized one.
      const bool last_wave = first + count == groups;
#pragma omp for schedule(static)
      for (Index j0 = 0; j0 < width; j0 += kSumBlock) {
        if (stop.stopped()) continue;  // some partials were never written
        const Index j1 = std::min(width, j0 + kSumBlock);
        for (Index g = 0; g < count; ++g) {
          const T* partial = partials + g * stride;
#pragma omp simd
          for (Index j = j0; j < j1; ++j) total[j] += partial[j];
        }
        if (last_wave) finish(j0, j1);
      }
    }
  }
  return !stop.stopped();
}

// A scalar partial of sum_over_chunks: its chunk's value, or the value added.
template <class T>
void put_partial(T& partial, T value, bool add) {
  partial = add ? partial + value : value;
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
