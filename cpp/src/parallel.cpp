#include "weightnoise/parallel.hpp"

#include <atomic>

namespace weightnoise {

namespace {
std::atomic<int> pinned_threads{0};
}

void set_num_threads(int n) { pinned_threads.store(n > 0 ? n : 0); }

int num_threads() {
  const int n = pinned_threads.load();
  return n > 0 ? n : omp_get_max_threads();
}

}  // namespace weightnoise
