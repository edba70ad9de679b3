// Bindings of the derivative kernels: convert, check, release the GIL, call.
#include "common.hpp"

namespace weightnoise::bindings {

namespace {

using Flags = std::vector<bool>;

template <class T>
void bind_for(py::module_& m) {

  m.def("predict", [](const Sizes& sizes, int act, const Array<T>& params, const Array<T>& X) {
    Vector<T> theta;
    const auto net = make_network(sizes, act, params, theta);
    const auto x = matrix_view(X, "X", sizes.front());
    auto out = new_vector<T>(x.rows());
    auto o = mutable_view(out);
    run_kernel([&] { predict<T>(net, x, o); });
    return out;
  }, "sizes"_a, "activation"_a, noconvert("params"), noconvert("X"));

  m.def("loss", [](const Sizes& sizes, int act, const Array<T>& params, const Array<T>& X, const Array<T>& y) {
    Vector<T> theta;
    const auto net = make_network(sizes, act, params, theta);
    const auto x = matrix_view(X, "X", sizes.front());
    const auto yv = vector_view(y, "y", x.rows());
    return run_kernel([&] { return double(loss<T>(net, x, yv)); });
  }, "sizes"_a, "activation"_a, noconvert("params"), noconvert("X"), noconvert("y"));

  m.def("loss_grad", [](const Sizes& sizes, int act, const Array<T>& params, const Array<T>& X, const Array<T>& y) {
    Vector<T> theta;
    const auto net = make_network(sizes, act, params, theta);
    const auto x = matrix_view(X, "X", sizes.front());
    const auto yv = vector_view(y, "y", x.rows());
    auto out = new_vector<T>(net.layout.n_params());
    auto o = mutable_view(out);
    double J;
    J = run_kernel([&] { return double(loss_grad<T>(net, x, yv, o)); });
    return py::make_tuple(J, out);
  }, "sizes"_a, "activation"_a, noconvert("params"), noconvert("X"), noconvert("y"));

  m.def("vjp", [](const Sizes& sizes, int act, const Array<T>& params, const Array<T>& X, const Array<T>& u) {
    Vector<T> theta;
    const auto net = make_network(sizes, act, params, theta);
    const auto x = matrix_view(X, "X", sizes.front());
    const auto uv = vector_view(u, "u", x.rows());
    auto out = new_vector<T>(net.layout.n_params());
    auto o = mutable_view(out);
    run_kernel([&] { vjp<T>(net, x, uv, o); });
    return out;
  }, "sizes"_a, "activation"_a, noconvert("params"), noconvert("X"), noconvert("u"));

  m.def("jvp", [](const Sizes& sizes, int act, const Array<T>& params, const Array<T>& X, const Array<T>& v) {
    Vector<T> theta;
    const auto net = make_network(sizes, act, params, theta);
    const auto x = matrix_view(X, "X", sizes.front());
    const Vector<T> vv = aligned_copy(v, "v", net.layout.n_params());
    auto out = new_vector<T>(x.rows());
    auto o = mutable_view(out);
    run_kernel([&] { jvp<T>(net, x, vv, o); });
    return out;
  }, "sizes"_a, "activation"_a, noconvert("params"), noconvert("X"), noconvert("v"));

  m.def("per_example_grads", [](const Sizes& sizes, int act, const Array<T>& params, const Array<T>& X) {
    Vector<T> theta;
    const auto net = make_network(sizes, act, params, theta);
    const auto x = matrix_view(X, "X", sizes.front());
    Array<T> out(std::vector<py::ssize_t>{py::ssize_t(x.rows()), py::ssize_t(net.layout.n_params())});
    Eigen::Map<RowMatrix<T>> o(out.mutable_data(), x.rows(), net.layout.n_params());
    run_kernel([&] { per_example_grads<T>(net, x, o); });
    return out;
  }, "sizes"_a, "activation"_a, noconvert("params"), noconvert("X"));

  m.def("grad_norms_sq", [](const Sizes& sizes, int act, const Array<T>& params, const Array<T>& X,
                            const Flags& weights, const Flags& biases) {
    Vector<T> theta;
    const auto net = make_network(sizes, act, params, theta);
    const auto subset = make_subset(net.n_layers(), weights, biases);
    const auto x = matrix_view(X, "X", sizes.front());
    auto out = new_vector<T>(x.rows());
    auto o = mutable_view(out);
    run_kernel([&] { grad_norms_sq<T>(net, x, subset, o); });
    return out;
  }, "sizes"_a, "activation"_a, noconvert("params"), noconvert("X"), "weights"_a, "biases"_a);

  m.def("penalty", [](const Sizes& sizes, int act, const Array<T>& params, const Array<T>& X,
                      const Flags& weights, const Flags& biases) {
    Vector<T> theta;
    const auto net = make_network(sizes, act, params, theta);
    const auto subset = make_subset(net.n_layers(), weights, biases);
    const auto x = matrix_view(X, "X", sizes.front());
    return run_kernel([&] { return double(penalty<T>(net, x, subset)); });
  }, "sizes"_a, "activation"_a, noconvert("params"), noconvert("X"), "weights"_a, "biases"_a);

  m.def("penalty_grad", [](const Sizes& sizes, int act, const Array<T>& params, const Array<T>& X,
                           const Flags& weights, const Flags& biases) {
    Vector<T> theta;
    const auto net = make_network(sizes, act, params, theta);
    const auto subset = make_subset(net.n_layers(), weights, biases);
    const auto x = matrix_view(X, "X", sizes.front());
    auto out = new_vector<T>(net.layout.n_params());
    auto o = mutable_view(out);
    double omega;
    omega = run_kernel([&] { return double(penalty_grad<T>(net, x, subset, o)); });
    return py::make_tuple(omega, out);
  }, "sizes"_a, "activation"_a, noconvert("params"), noconvert("X"), "weights"_a, "biases"_a);

  m.def("hvp", [](const Sizes& sizes, int act, const Array<T>& params, const Array<T>& X, const Array<T>& v,
                  const Array<T>& u) {
    Vector<T> theta;
    const auto net = make_network(sizes, act, params, theta);
    const auto x = matrix_view(X, "X", sizes.front());
    const Vector<T> vv = aligned_copy(v, "v", net.layout.n_params());
    const auto uv = vector_view(u, "u", x.rows());
    auto out = new_vector<T>(net.layout.n_params());
    auto o = mutable_view(out);
    run_kernel([&] { hvp<T>(net, x, vv, uv, o); });
    return out;
  }, "sizes"_a, "activation"_a, noconvert("params"), noconvert("X"), noconvert("v"), noconvert("u"));

  m.def("hessian_trace_exact", [](const Sizes& sizes, int act, const Array<T>& params, const Array<T>& X,
                                  const Flags& weights, const Flags& biases) {
    Vector<T> theta;
    const auto net = make_network(sizes, act, params, theta);
    const auto subset = make_subset(net.n_layers(), weights, biases);
    const auto x = matrix_view(X, "X", sizes.front());
    auto out = new_vector<T>(x.rows());
    auto o = mutable_view(out);
    run_kernel([&] { hessian_trace_exact<T>(net, x, subset, o); });
    return out;
  }, "sizes"_a, "activation"_a, noconvert("params"), noconvert("X"), "weights"_a, "biases"_a);

  m.def("second_order_terms", [](const Sizes& sizes, int act, const Array<T>& params, const Array<T>& X,
                                 const Array<T>& y, const Flags& weights, const Flags& biases) {
    Vector<T> theta;
    const auto net = make_network(sizes, act, params, theta);
    const auto subset = make_subset(net.n_layers(), weights, biases);
    const auto x = matrix_view(X, "X", sizes.front());
    const auto yv = vector_view(y, "y", x.rows());
    const auto terms = run_kernel([&] { return second_order_terms<T>(net, x, yv, subset); });
    return py::make_tuple(double(terms.loss), double(terms.penalty), double(terms.curvature));
  }, "sizes"_a, "activation"_a, noconvert("params"), noconvert("X"), noconvert("y"), "weights"_a, "biases"_a);

  m.def("hessian_trace_hutchinson", [](const Sizes& sizes, int act, const Array<T>& params, const Array<T>& X,
                                       const Flags& weights, const Flags& biases, Index n_probes,
                                       std::uint64_t seed) {
    Vector<T> theta;
    const auto net = make_network(sizes, act, params, theta);
    const auto subset = make_subset(net.n_layers(), weights, biases);
    const auto x = matrix_view(X, "X", sizes.front());
    require(n_probes >= 1 && n_probes < (Index(1) << 32), "n_probes must be in [1, 2**32)");
    auto out = new_vector<T>(x.rows());
    auto o = mutable_view(out);
    run_kernel([&] { hessian_trace_hutchinson<T>(net, x, subset, n_probes, seed, o); });
    return out;
  }, "sizes"_a, "activation"_a, noconvert("params"), noconvert("X"), "weights"_a, "biases"_a, "n_probes"_a,
     "seed"_a);
}

}  // namespace

void bind_derivatives(py::module_& m) {
  bind_for<float>(m);
  bind_for<double>(m);
}

}  // namespace weightnoise::bindings
