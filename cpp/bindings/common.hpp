// Shared conversions for the bindings: NumPy arrays to Eigen views, the
// (sizes, activation, params) triple to a Network. Checks here are a last
// line of defence: the Python layer validates first and explains.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "weightnoise.hpp"

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace weightnoise::bindings {

namespace py = pybind11;
using namespace pybind11::literals;

template <class T>
using Array = py::array_t<T, py::array::c_style>;
using Sizes = std::vector<Index>;

// An array argument taken as it is: a wrong dtype or layout is an error for the
// Python layer to have caught, never a silent copy.
inline py::arg noconvert(const char* name) { return py::arg(name).noconvert(); }

inline void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

template <class T>
Eigen::Map<const RowMatrix<T>> matrix_view(const Array<T>& a, const char* name, Index cols) {
  require(a.ndim() == 2, std::string(name) + " must be 2-D");
  require(a.shape(1) == cols, std::string(name) + " has " + std::to_string(a.shape(1)) + " columns, expected " +
                                  std::to_string(cols));
  return Eigen::Map<const RowMatrix<T>>(a.data(), a.shape(0), a.shape(1));
}

template <class T>
Eigen::Map<const Vector<T>> vector_view(const Array<T>& a, const char* name, Index size) {
  require(a.ndim() == 1 && a.shape(0) == size,
          std::string(name) + " must have shape (" + std::to_string(size) + ",)");
  return Eigen::Map<const Vector<T>>(a.data(), size);
}

// An aligned copy of a parameter-space vector. Kernels never read parameters
// from NumPy's memory: Eigen's vectorized loops peel by alignment, and a
// result must not depend on where NumPy happened to allocate an array.
template <class T>
Vector<T> aligned_copy(const Array<T>& a, const char* name, Index size) {
  return vector_view(a, name, size);
}

// The network over an aligned copy of params, held in storage.
template <class T>
Network<T> make_network(const Sizes& sizes, int activation, const Array<T>& params, Vector<T>& storage) {
  require(sizes.size() >= 2, "a network needs at least an input and an output size");
  for (Index d : sizes) require(d >= 1, "layer sizes must be positive");
  require(activation >= 0 && activation <= int(Activation::identity), "unknown activation code");
  Layout layout(sizes);
  require(params.ndim() == 1 && params.shape(0) == layout.n_params(),
          "params must have shape (" + std::to_string(layout.n_params()) + ",)");
  storage = aligned_copy(params, "params", layout.n_params());
  return Network<T>(std::move(layout), Activation(activation), storage.data());
}

inline ParamSubset make_subset(Index n_layers, const std::vector<bool>& weights, const std::vector<bool>& biases) {
  require(Index(weights.size()) == n_layers && Index(biases.size()) == n_layers,
          "the parameter subset needs one weight and one bias flag per layer");
  return {weights, biases};
}

template <class T>
Array<T> new_vector(Index n) {
  return Array<T>(std::vector<py::ssize_t>{py::ssize_t(n)});
}

template <class T>
Eigen::Map<Vector<T>> mutable_view(Array<T>& a) {
  return Eigen::Map<Vector<T>>(a.mutable_data(), a.size());
}

// An Interrupt that runs Python's signal handlers (Ctrl-C raises there), at
// most every 20 ms so a kernel does not queue for the GIL at every step. A
// kernel that stops on it returns false; the binding then raises the pending
// Python exception with the GIL held, through python_error().
inline Interrupt python_interrupt() {
  auto last = std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
  return [last] {
    const auto now = std::chrono::steady_clock::now();
    if (now - *last < std::chrono::milliseconds(20)) return false;
    *last = now;
    py::gil_scoped_acquire acquire;
    return PyErr_CheckSignals() != 0;
  };
}
[[noreturn]] inline void python_error() { throw py::error_already_set(); }

// Runs a kernel as every binding must: the thread count fixed for the whole
// call, the GIL released, Ctrl-C polled. A stopped kernel's outputs are
// incomplete: they are dropped and the pending Python exception is raised.
template <class Kernel>
auto run_kernel(Kernel&& kernel) {
  ThreadCountScope threads;
  Cancel cancel(python_interrupt());
  if constexpr (std::is_void_v<decltype(kernel())>) {
    {
      py::gil_scoped_release release;
      kernel();
    }
    if (cancel.stopped()) python_error();
  } else {
    auto result = [&] {
      py::gil_scoped_release release;
      return kernel();
    }();
    if (cancel.stopped()) python_error();
    return result;
  }
}

void bind_threads(py::module_& m);
void bind_noise(py::module_& m);
void bind_train(py::module_& m);
void bind_derivatives(py::module_& m);
void bind_random(py::module_& m);

}  // namespace weightnoise::bindings
