#include "common.hpp"

namespace weightnoise::bindings {

// More threads than this never helps, and a team larger than the process may
// create makes OpenMP abort the interpreter.
constexpr int kMaxThreads = 1024;

void bind_threads(py::module_& m) {
  m.def("set_num_threads", [](Index n) {
    require(n >= 0 && n <= kMaxThreads, "n must be in [0, " + std::to_string(kMaxThreads) + "] threads, got " +
                                            std::to_string(n));
    weightnoise::set_num_threads(int(n));
  }, "n"_a);
  m.attr("max_threads") = kMaxThreads;
  m.def("get_num_threads", &weightnoise::num_threads);
  m.attr("chunk_rows") = kChunkRows;
}

}  // namespace weightnoise::bindings
