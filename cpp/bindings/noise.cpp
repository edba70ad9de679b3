// Bindings of the weight-noise kernels.
#include "common.hpp"

#include <cmath>
#include <limits>

namespace weightnoise::bindings {

namespace {

using Flags = std::vector<bool>;

template <class T>
NoiseSpec<T> make_spec(Index n_layers, int mode, double eta, std::uint64_t seed, bool antithetic,
                       const Flags& weights, const Flags& biases) {
  require(mode >= 0 && mode <= int(NoiseMode::local), "unknown noise mode code");
  require(eta >= 0 && std::isfinite(eta), "eta must be finite and non-negative");
  require(eta <= double(std::numeric_limits<T>::max()), "eta overflows the model's dtype");
  return {NoiseMode(mode), T(eta), seed, antithetic, make_subset(n_layers, weights, biases)};
}

template <class T>
void bind_for(py::module_& m) {

  m.def("perturb", [](const Sizes& sizes, int act, const Array<T>& params, double eta, std::uint64_t seed,
                      Index draw, const Flags& weights, const Flags& biases) {
    Vector<T> theta;
    const auto net = make_network(sizes, act, params, theta);
    const auto spec = make_spec<T>(net.n_layers(), int(NoiseMode::shared), eta, seed, false, weights, biases);
    require(draw >= 0 && draw < (Index(1) << 32), "draw must be in [0, 2**32)");
    auto out = new_vector<T>(net.layout.n_params());
    T* o = out.mutable_data();
    run_kernel([&] { perturb<T>(net, spec, draw, T(1), o); });
    return out;
  }, "sizes"_a, "activation"_a, noconvert("params"), "eta"_a, "seed"_a, "draw"_a, "weights"_a, "biases"_a);

  m.def("perturbed_losses", [](const Sizes& sizes, int act, const Array<T>& params, const Array<T>& X,
                               const Array<T>& y, int mode, double eta, std::uint64_t seed, bool antithetic,
                               const Flags& weights, const Flags& biases, Index n_draws, Index first_draw) {
    Vector<T> theta;
    const auto net = make_network(sizes, act, params, theta);
    const auto spec = make_spec<T>(net.n_layers(), mode, eta, seed, antithetic, weights, biases);
    const auto x = matrix_view(X, "X", sizes.front());
    const auto yv = vector_view(y, "y", x.rows());
    require(n_draws >= 1 && first_draw >= 0 && first_draw + n_draws <= (Index(1) << 32),
            "draws must lie in [0, 2**32)");
    require(x.rows() < (Index(1) << 32), "at most 2**32 examples");
    auto out = new_vector<T>(n_draws);
    auto o = mutable_view(out);
    run_kernel([&] { perturbed_losses<T>(net, x, yv, spec, first_draw, o); });
    return out;
  }, "sizes"_a, "activation"_a, noconvert("params"), noconvert("X"), noconvert("y"), "mode"_a, "eta"_a, "seed"_a,
     "antithetic"_a, "weights"_a, "biases"_a, "n_draws"_a, "first_draw"_a);
}

}  // namespace

void bind_noise(py::module_& m) {
  bind_for<float>(m);
  bind_for<double>(m);
}

}  // namespace weightnoise::bindings
