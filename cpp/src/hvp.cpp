#include "weightnoise/hvp.hpp"

#include "weightnoise/roperator.hpp"

namespace weightnoise {

template <class T>
void hvp(const Network<T>& net, ConstMatrixRef<T> X, ConstVectorRef<T> v, ConstVectorRef<T> u, VectorRef<T> out) {
  const Index P = net.layout.n_params();
  auto states = per_thread<ChunkState<T>>(net.layout);
  auto rstates = per_thread<RState<T>>(net.layout);
  sum_over_chunks<T>(X.rows(), P, out.data(), [&](Index begin, Index rows, int t, T* partial) {
    ChunkState<T>& s = states[t];
    forward(net, X.middleRows(begin, rows), s, true);
    backward(net, s);
    r_forward(net, s, rstates[t], shared_forward_source(net, s, v.data()));
    r_backward(net, s, rstates[t], shared_backward_source(net, s, v.data()));
    Eigen::Map<Vector<T>>(partial, P).setZero();
    accumulate_hvp(net, s, rstates[t], u.segment(begin, rows), partial);
  });
}

template <class T>
T penalty_grad(const Network<T>& net, ConstMatrixRef<T> X, const ParamSubset& subset, VectorRef<T> out) {
  const Index N = X.rows(), P = net.layout.n_params();
  auto states = per_thread<ChunkState<T>>(net.layout);
  auto rstates = per_thread<RState<T>>(net.layout);
  // Per example and layer: c_l = ‖a_l‖²·[W_l] + [b_l] and e_l = ‖δ_l‖²·[W_l].
  auto scales = per_thread<RowMatrix<T>>(kChunkRows, 2 * net.n_layers());
  Vector<T> total(P + 1);  // entry P carries Σ ‖g_n‖², so Ω comes out of the same pass
  sum_over_chunks<T>(N, P + 1, total.data(), [&](Index begin, Index rows, int t, T* partial) {
    ChunkState<T>& s = states[t];
    RowMatrix<T>& c = scales[t];
    forward(net, X.middleRows(begin, rows), s, true);
    backward(net, s);
    T norm_sq = 0;
    for (Index l = 0; l < net.n_layers(); ++l) {
      const T w = subset.weights[l] ? T(1) : T(0), b = subset.biases[l] ? T(1) : T(0);
      c.col(l).head(rows) = w * s.top(s.a[l]).rowwise().squaredNorm().array() + b;
      c.col(net.n_layers() + l).head(rows) = w * s.top(s.delta[l]).rowwise().squaredNorm();
      norm_sq += (c.col(l).head(rows).array() * s.top(s.delta[l]).rowwise().squaredNorm().array()).sum();
    }
    // s_l = V_l a_l + v_l = δ_l c_l;   t_l = V_lᵀ δ_l = a_l e_l.
    auto forward_source = [&](Index l, auto& rz) {
      rz = s.top(s.delta[l]).array().colwise() * c.col(l).head(rows).array();
    };
    auto backward_source = [&](Index l, auto& acc) {
      acc = s.top(s.a[l]).array().colwise() * c.col(net.n_layers() + l).head(rows).array();
    };
    r_forward(net, s, rstates[t], forward_source);
    r_backward(net, s, rstates[t], backward_source);
    Eigen::Map<Vector<T>>(partial, P).setZero();
    accumulate_hvp(net, s, rstates[t], Vector<T>::Constant(rows, T(2) / T(N)), partial);
    partial[P] = norm_sq;
  });
  out = total.head(P);
  return total[P] / T(N);
}

#define WEIGHTNOISE_INSTANTIATE(T)                                                                               \
  template void hvp<T>(const Network<T>&, ConstMatrixRef<T>, ConstVectorRef<T>, ConstVectorRef<T>, VectorRef<T>); \
  template T penalty_grad<T>(const Network<T>&, ConstMatrixRef<T>, const ParamSubset&, VectorRef<T>);
WEIGHTNOISE_INSTANTIATE(float)
WEIGHTNOISE_INSTANTIATE(double)

}  // namespace weightnoise
