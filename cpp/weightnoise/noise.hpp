// Gaussian weight noise ε ~ N(0, ηI) on a parameter subset, and Monte Carlo
// estimates of the perturbed loss J̃_η = E_ε (1/N) Σ_n (ŷ_{θ+ε}(x_n) − y_n)².
//
// Streams (random.hpp): shared ε_k = stream (seed, shared_noise, k, 0), element
// i = parameter i; per-example ε_{k,n} = stream (seed, example_noise, k, n),
// element i = parameter i; local ξ_{k,n} = stream (seed, local_noise, k, n),
// element local_offset(l) + j = unit j of layer l. Elements keep their index
// whatever the subset, so one seed gives the same noise on shared parameters.
#pragma once

#include "weightnoise/network.hpp"
#include "weightnoise/parallel.hpp"
#include "weightnoise/random.hpp"

#include <cstdint>

namespace weightnoise {

enum class NoiseMode : int {
  shared = 0,       // one ε_k per draw for all examples
  per_example = 1,  // an independent ε_{k,n} per draw and example, sampled literally
  local = 2,        // the per-example distribution, sampled through the pre-activations
};

template <class T>
struct NoiseSpec {
  NoiseMode mode;
  T eta;               // variance of every perturbed parameter
  std::uint64_t seed;
  bool antithetic;     // evaluate each draw at +ε and −ε
  ParamSubset subset;  // the parameters that carry noise
};

// Offset of layer l's units in a local-noise vector ξ (length local_width).
inline Index local_offset(const Layout& layout, Index l) {
  Index offset = 0;
  for (Index k = 0; k < l; ++k) offset += layout.fan_out(k);
  return offset;
}
inline Index local_width(const Layout& layout) { return local_offset(layout, layout.n_layers()); }

// out (P) = θ + sign·√η·ε_k, with ε_k = stream (seed, purpose, k, 0) zero outside the subset.
template <class T>
void perturb(const Network<T>& net, const NoiseSpec<T>& spec, Index draw, T sign, T* out,
             Purpose purpose = Purpose::shared_noise);

// out_k = (1/N) Σ_n (ŷ_{θ+ε}(x_n) − y_n)² for draws k = first_draw … first_draw + K − 1,
// averaged over the ± pair when antithetic. Returns false when the call's
// Cancel stopped it (out is then incomplete).
template <class T>
bool perturbed_losses(const Network<T>& net, ConstMatrixRef<T> X, ConstVectorRef<T> y, const NoiseSpec<T>& spec,
                      Index first_draw, VectorRef<T> out);

}  // namespace weightnoise
