#include "common.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "weightnoise compiled core (private: use the weightnoise package)";
  weightnoise::bindings::bind_threads(m);
  weightnoise::bindings::bind_derivatives(m);
  weightnoise::bindings::bind_random(m);
  weightnoise::bindings::bind_noise(m);
  weightnoise::bindings::bind_train(m);
}
