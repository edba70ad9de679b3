// Bindings of the counter-based generator.
#include "common.hpp"

#include <algorithm>

namespace weightnoise::bindings {

namespace {

template <class T>
Array<T> probe(const Sizes& sizes, const std::vector<bool>& weights, const std::vector<bool>& biases,
               std::uint64_t seed, Index k) {
  const Layout layout(sizes);
  const auto subset = make_subset(layout.n_layers(), weights, biases);
  auto out = new_vector<T>(layout.n_params());
  hutchinson_probe<T>(layout, subset, seed, k, out.mutable_data());
  return out;
}

// Elements in one stream (uint32 block index): 2^33 normals or uniforms (two per block),
// 2^39 signs (128 per block).
constexpr std::uint64_t kPairStream = std::uint64_t(1) << 33, kSignStream = std::uint64_t(1) << 39;
// Elements per parallel piece: fixed, so the work split never depends on the thread count
// (and the values never depend on the split).
constexpr Index kPiece = Index(1) << 14;

void check_range(Index n, std::uint64_t first, std::uint64_t length) {
  require(n >= 0, "n must be non-negative");
  require(std::uint64_t(n) <= length && first <= length - std::uint64_t(n),
          "first + n must not exceed " + std::string(length == kPairStream ? "2**33" : "2**39") +
              ", the length of a stream");
}

// data[0, n) = elements first … first + n − 1 (a range check_range accepted), filled by
// fill(first + begin, data + begin, count) in pieces.
template <class T, class Fill>
void fill_parallel_into(T* data, Index n, std::uint64_t first, Fill fill) {
  const Index pieces = (n + kPiece - 1) / kPiece;
  run_kernel([&] {
    for_each_item(pieces, [&](Index p, int) {
      const Index begin = p * kPiece;
      fill(first + std::uint64_t(begin), data + begin, std::min(kPiece, n - begin));
    });
  });
}

// A new array of those elements.
template <class T, class Fill>
Array<T> fill_parallel(Index n, std::uint64_t first, std::uint64_t length, Fill fill) {
  check_range(n, first, length);
  auto out = new_vector<T>(n);
  fill_parallel_into(out.mutable_data(), n, first, fill);
  return out;
}

Stream make_stream(std::uint64_t seed, std::uint32_t purpose, std::uint32_t draw, std::uint32_t item) {
  return Stream{seed, Purpose(purpose), draw, item};
}

template <class T>
Array<T> normal(Index n, std::uint64_t seed, std::uint32_t purpose, std::uint32_t draw, std::uint32_t item,
                std::uint64_t first) {
  const Stream s = make_stream(seed, purpose, draw, item);
  return fill_parallel<T>(n, first, kPairStream,
                          [&s](std::uint64_t e, T* out, Index count) { fill_normal<T>(s, e, out, count); });
}

template <class T>
Array<T> standard_normal(Index n, std::uint64_t seed, std::uint64_t first) {
  return normal<T>(n, seed, std::uint32_t(Purpose::standard_normal), 0, 0, first);
}

// The same elements into an existing C-contiguous, writeable array (all of it, in memory order).
template <class T>
void standard_normal_into(Array<T>& out, std::uint64_t seed, std::uint64_t first) {
  require(out.writeable(), "out must be writeable");
  const Index n = Index(out.size());
  check_range(n, first, kPairStream);
  const Stream s = make_stream(seed, std::uint32_t(Purpose::standard_normal), 0, 0);
  fill_parallel_into<T>(out.mutable_data(), n, first,
                        [&s](std::uint64_t e, T* data, Index count) { fill_normal<T>(s, e, data, count); });
}

Array<double> uniform(Index n, std::uint64_t seed, std::uint32_t purpose, std::uint32_t draw, std::uint32_t item,
                      std::uint64_t first) {
  const Stream s = make_stream(seed, purpose, draw, item);
  return fill_parallel<double>(n, first, kPairStream,
                               [&s](std::uint64_t e, double* out, Index count) { fill_uniform(s, e, out, count); });
}

Array<double> rademacher(Index n, std::uint64_t seed, std::uint32_t purpose, std::uint32_t draw, std::uint32_t item,
                         std::uint64_t first) {
  const Stream s = make_stream(seed, purpose, draw, item);
  return fill_parallel<double>(n, first, kSignStream, [&s](std::uint64_t e, double* out, Index count) {
    fill_rademacher<double>(s, e, out, count);
  });
}

// (n, 4) uint32 Philox output blocks → their 2n normals.
Array<double> box_muller_blocks(const Array<std::uint32_t>& blocks) {
  require(blocks.ndim() == 2 && blocks.shape(1) == 4, "blocks must have shape (n, 4)");
  const Index n = blocks.shape(0);
  auto out = new_vector<double>(2 * n);
  static_assert(sizeof(Block) == 4 * sizeof(std::uint32_t), "a Block is four packed words");
  box_muller(reinterpret_cast<const Block*>(blocks.data()), n, out.mutable_data());
  return out;
}

// Row n = elements 0 … count − 1 of the normals of stream {seed, purpose, draw, items[n]}, by the
// batched generator of local noise (fill_normal_rows); the tests hold it against normal_float64.
Array<double> normal_rows(const Array<std::uint32_t>& items, Index count, std::uint64_t seed, std::uint32_t purpose,
                          std::uint32_t draw) {
  require(items.ndim() == 1, "items must be one-dimensional");
  require(count >= 0 && std::uint64_t(count) <= kPairStream, "count must be in [0, 2**33]");
  const Index rows = items.shape(0);
  Array<double> out(std::vector<py::ssize_t>{py::ssize_t(rows), py::ssize_t(count)});
  const std::uint32_t* item = items.data();
  fill_normal_rows(make_stream(seed, purpose, draw, 0), [item](Index n) { return item[n]; }, rows, count,
                   out.mutable_data(), count);
  return out;
}

}  // namespace

void bind_random(py::module_& m) {
  m.def("philox4x32_10", [](std::array<std::uint32_t, 4> counter, std::uint32_t k0, std::uint32_t k1) {
    return philox4x32_10(counter, k0, k1);
  }, "counter"_a, "k0"_a, "k1"_a);
  m.def("hutchinson_probe_float64", &probe<double>, "sizes"_a, "weights"_a, "biases"_a, "seed"_a, "k"_a);
  m.def("hutchinson_probe_float32", &probe<float>, "sizes"_a, "weights"_a, "biases"_a, "seed"_a, "k"_a);
  m.def("standard_normal_float64", &standard_normal<double>, "n"_a, "seed"_a, "first"_a = 0);
  m.def("standard_normal_float32", &standard_normal<float>, "n"_a, "seed"_a, "first"_a = 0);
  m.def("standard_normal_into_float64", &standard_normal_into<double>, noconvert("out"), "seed"_a,
        "first"_a = 0);
  m.def("standard_normal_into_float32", &standard_normal_into<float>, noconvert("out"), "seed"_a,
        "first"_a = 0);
  m.def("normal_float64", &normal<double>, "n"_a, "seed"_a, "purpose"_a, "draw"_a, "item"_a, "first"_a = 0);
  m.def("normal_float32", &normal<float>, "n"_a, "seed"_a, "purpose"_a, "draw"_a, "item"_a, "first"_a = 0);
  m.def("uniform_float64", &uniform, "n"_a, "seed"_a, "purpose"_a, "draw"_a, "item"_a, "first"_a = 0);
  m.def("box_muller_float64", &box_muller_blocks, "blocks"_a);
  m.def("normal_rows_float64", &normal_rows, "items"_a, "count"_a, "seed"_a, "purpose"_a, "draw"_a);
  m.def("rademacher_float64", &rademacher, "n"_a, "seed"_a, "purpose"_a, "draw"_a, "item"_a, "first"_a = 0);
}

}  // namespace weightnoise::bindings
