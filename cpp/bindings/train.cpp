// Bindings of the training kernels.
#include "common.hpp"

#include <cmath>
#include <limits>

namespace weightnoise::bindings {

namespace {

// Training settings from Python, in double precision until a kernel's T is known.
struct TrainSettings {
  int objective = 0, noise = 0, optimizer = 0;
  double eta = 0, lr = 0.01, momentum = 0, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;
  Index batch_size = 32;
  std::uint64_t seed = 0;
  std::vector<bool> weights, biases;
};

template <class T>
TrainSpec<T> make_train_spec(const TrainSettings& t, Index n_layers) {
  require(t.objective >= 0 && t.objective <= int(Objective::noise), "unknown objective code");
  require(t.noise >= 0 && t.noise <= int(NoiseMode::local), "unknown noise mode code");
  require(t.optimizer >= 0 && t.optimizer <= int(Optimizer::adam), "unknown optimizer code");
  require(std::isfinite(t.eta) && t.eta >= 0, "eta must be finite and non-negative");
  require(std::isfinite(t.lr) && t.lr > 0, "lr must be finite and positive");
  require(t.eta <= double(std::numeric_limits<T>::max()) && t.lr <= double(std::numeric_limits<T>::max()),
          "eta and lr must be representable in the model's dtype");
  require(t.momentum >= 0 && t.momentum < 1, "momentum must be in [0, 1)");
  require(t.batch_size >= 1, "batch_size must be at least 1");
  NoiseSpec<T> noise{NoiseMode(t.noise), T(t.eta), t.seed, false, make_subset(n_layers, t.weights, t.biases)};
  return {Objective(t.objective), noise,        Optimizer(t.optimizer), T(t.lr),      T(t.momentum),
          T(t.beta1),             T(t.beta2),   T(t.epsilon),           t.batch_size, t.seed};
}

template <class T>
OptimizerState<T> make_state(const TrainSpec<T>& spec, Index step, const Array<T>& moments, Index P) {
  const Index rows = spec.optimizer == Optimizer::sgd ? 1 : 2;
  require(moments.ndim() == 2 && moments.shape(0) == rows && moments.shape(1) == P,
          "optimizer moments must have shape (" + std::to_string(rows) + ", " + std::to_string(P) + ")");
  require(step >= 0, "step must be non-negative");
  OptimizerState<T> state;
  state.step = step;
  state.moments = Eigen::Map<const RowMatrix<T>>(moments.data(), rows, P);
  return state;
}

template <class T>
Array<T> to_array(const RowMatrix<T>& m) {
  Array<T> out(std::vector<py::ssize_t>{py::ssize_t(m.rows()), py::ssize_t(m.cols())});
  Eigen::Map<RowMatrix<T>>(out.mutable_data(), m.rows(), m.cols()) = m;
  return out;
}

template <class T>
Array<T> to_array(const Vector<T>& v) {
  auto out = new_vector<T>(v.size());
  mutable_view(out) = v;
  return out;
}

// Epochs and steps key 32-bit stream counters.
void check_counters(Index epoch, Index step) {
  require(epoch >= 0 && epoch < (Index(1) << 32), "epoch must be in [0, 2**32)");
  require(step >= 0 && step < (Index(1) << 32), "step must be in [0, 2**32)");
}

std::vector<Index> checked_ids(const Array<std::int64_t>& ids, Index n_examples) {
  require(ids.ndim() == 1 && ids.shape(0) >= 1, "ids must be a non-empty 1-D array");
  std::vector<Index> out(ids.data(), ids.data() + ids.shape(0));
  for (Index i : out) require(i >= 0 && i < n_examples, "ids must index rows of X");
  return out;
}

template <class T>
void bind_for(py::module_& m) {

  m.def("objective_grad", [](const Sizes& sizes, int act, const Array<T>& params, const Array<T>& X,
                             const Array<T>& y, const Array<std::int64_t>& ids, const TrainSettings& settings,
                             Index epoch, Index step) {
    Vector<T> theta;
    const auto net = make_network(sizes, act, params, theta);
    const auto spec = make_train_spec<T>(settings, net.n_layers());
    const auto x = matrix_view(X, "X", sizes.front());
    const auto yv = vector_view(y, "y", x.rows());
    const auto rows = checked_ids(ids, x.rows());
    check_counters(epoch, step);
    auto out = new_vector<T>(net.layout.n_params());
    T* o = out.mutable_data();
    const double loss_sum = run_kernel(
        [&] { return double(objective_grad<T>(net, x, yv, rows.data(), Index(rows.size()), spec, epoch, step, o)); });
    return py::make_tuple(out, loss_sum);
  }, "sizes"_a, "activation"_a, noconvert("params"), noconvert("X"), noconvert("y"), noconvert("ids"),
     "settings"_a, "epoch"_a, "step"_a);

  m.def("train_step", [](const Sizes& sizes, int act, const Array<T>& params, const Array<T>& X,
                         const Array<T>& y, const Array<std::int64_t>& ids, const TrainSettings& settings,
                         Index epoch, Index step, const Array<T>& moments) {
    Vector<T> theta;
    const auto net = make_network(sizes, act, params, theta);
    const auto spec = make_train_spec<T>(settings, net.n_layers());
    const auto x = matrix_view(X, "X", sizes.front());
    const auto yv = vector_view(y, "y", x.rows());
    const auto rows = checked_ids(ids, x.rows());
    check_counters(epoch, step);
    auto state = make_state(spec, step, moments, net.layout.n_params());
    Vector<T> grad(net.layout.n_params());
    const double loss_sum = run_kernel([&] {
      const auto sum = double(objective_grad<T>(net, x, yv, rows.data(), Index(rows.size()), spec, epoch, step,
                                                grad.data()));
      if (!Cancel::current()->stopped()) optimizer_update(spec, state, theta.data(), grad.data());
      return sum;
    });
    return py::make_tuple(to_array(theta), to_array(state.moments), state.step, loss_sum);
  }, "sizes"_a, "activation"_a, noconvert("params"), noconvert("X"), noconvert("y"), noconvert("ids"),
     "settings"_a, "epoch"_a, "step"_a, noconvert("moments"));

  m.def("train_epoch", [](const Sizes& sizes, int act, const Array<T>& params, const Array<T>& X,
                          const Array<T>& y, const TrainSettings& settings, Index epoch, Index step,
                          const Array<T>& moments) {
    Vector<T> theta;
    const auto net = make_network(sizes, act, params, theta);
    const auto spec = make_train_spec<T>(settings, net.n_layers());
    const auto x = matrix_view(X, "X", sizes.front());
    const auto yv = vector_view(y, "y", x.rows());
    check_counters(epoch, step);
    auto state = make_state(spec, step, moments, net.layout.n_params());
    Vector<T> updated = theta;
    T mean_loss = 0;
    run_kernel([&] { train_epoch<T>(net, x, yv, spec, epoch, updated, state, mean_loss); });
    return py::make_tuple(to_array(updated), to_array(state.moments), state.step, double(mean_loss));
  }, "sizes"_a, "activation"_a, noconvert("params"), noconvert("X"), noconvert("y"), "settings"_a, "epoch"_a,
     "step"_a, noconvert("moments"));
}

}  // namespace

void bind_train(py::module_& m) {
  py::class_<TrainSettings>(m, "TrainSettings")
      .def(py::init<>())
      .def_readwrite("objective", &TrainSettings::objective)
      .def_readwrite("noise", &TrainSettings::noise)
      .def_readwrite("optimizer", &TrainSettings::optimizer)
      .def_readwrite("eta", &TrainSettings::eta)
      .def_readwrite("lr", &TrainSettings::lr)
      .def_readwrite("momentum", &TrainSettings::momentum)
      .def_readwrite("beta1", &TrainSettings::beta1)
      .def_readwrite("beta2", &TrainSettings::beta2)
      .def_readwrite("epsilon", &TrainSettings::epsilon)
      .def_readwrite("batch_size", &TrainSettings::batch_size)
      .def_readwrite("seed", &TrainSettings::seed)
      .def_readwrite("weights", &TrainSettings::weights)
      .def_readwrite("biases", &TrainSettings::biases);
  m.def("epoch_order", [](std::uint64_t seed, Index epoch, Index n) {
    require(n >= 1 && epoch >= 0 && epoch < (Index(1) << 32), "need n >= 1 and epoch in [0, 2**32)");
    Array<std::int64_t> out(std::vector<py::ssize_t>{py::ssize_t(n)});
    std::vector<Index> order(n);
    epoch_order(seed, epoch, n, order.data());
    std::copy(order.begin(), order.end(), out.mutable_data());
    return out;
  }, "seed"_a, "epoch"_a, "n"_a);
  bind_for<float>(m);
  bind_for<double>(m);
}

}  // namespace weightnoise::bindings
