#include "weightnoise/parallel.hpp"

#include <atomic>
#include <utility>

namespace weightnoise {

namespace {
std::atomic<int> pinned_threads{0};
thread_local int call_threads = 0;  // > 0 inside a ThreadCountScope
thread_local Cancel* current_cancel = nullptr;

int configured_threads() {
  const int n = pinned_threads.load();
  return n > 0 ? n : omp_get_max_threads();
}
}  // namespace

void set_num_threads(int n) { pinned_threads.store(n > 0 ? n : 0); }

int num_threads() { return call_threads > 0 ? call_threads : configured_threads(); }

ThreadCountScope::ThreadCountScope() : saved_(call_threads) { call_threads = num_threads(); }

ThreadCountScope::~ThreadCountScope() { call_threads = saved_; }

Cancel::Cancel(Interrupt check) : check_(std::move(check)), outer_(current_cancel) { current_cancel = this; }

Cancel::~Cancel() { current_cancel = outer_; }

Cancel* Cancel::current() { return current_cancel; }

bool Cancel::poll() {
  if (!stopped() && check_ && check_()) stopped_.store(true, std::memory_order_relaxed);
  return stopped();
}

}  // namespace weightnoise
