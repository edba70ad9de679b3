#include "common.hpp"

namespace weightnoise::bindings {

void bind_threads(py::module_& m) {
  m.def("set_num_threads", &weightnoise::set_num_threads, "n"_a);
  m.def("get_num_threads", &weightnoise::num_threads);
  m.attr("chunk_rows") = kChunkRows;
}

}  // namespace weightnoise::bindings
