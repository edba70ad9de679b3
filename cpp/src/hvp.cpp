#include "weightnoise/hvp.hpp"

#include "weightnoise/roperator.hpp"

namespace weightnoise {

template <class T>
void hvp(const Network<T>& net, ConstMatrixRef<T> X, ConstVectorRef<T> v, ConstVectorRef<T> u, VectorRef<T> out) {
  const Index P = net.layout.n_params();
  auto states = per_thread<ChunkState<T>>(net.layout);
  auto rstates = per_thread<RState<T>>(net.layout);
  sum_over_chunks<T>(X.rows(), P, out.data(), [&](Index begin, Index rows, int t, T* partial, bool add) {
    ChunkState<T>& s = states[t];
    forward(net, X.middleRows(begin, rows), s, r_derivatives(net.activation));
    backward(net, s);
    r_forward(net, s, rstates[t], shared_forward_source(net, s, v.data()));
    r_backward(net, s, rstates[t], shared_backward_source(net, s, v.data()));
    if (!add) Eigen::Map<Vector<T>>(partial, P).setZero();
    accumulate_hvp(net, s, rstates[t], u.segment(begin, rows), partial);
  });
}

template <class T>
T penalty_grad(const Network<T>& net, ConstMatrixRef<T> X, const ParamSubset& subset, VectorRef<T> out) {
  const Index N = X.rows(), P = net.layout.n_params();
  auto states = per_thread<ChunkState<T>>(net.layout);
  auto pstates = per_thread<PenaltyState<T>>(net.layout);
  Vector<T> total(P + 1);  // entry P carries Σ ‖g_n‖², so Ω comes out of the same pass
  sum_over_chunks<T>(N, P + 1, total.data(), [&](Index begin, Index rows, int t, T* partial, bool add) {
    ChunkState<T>& s = states[t];
    forward(net, X.middleRows(begin, rows), s, r_derivatives(net.activation));
    backward(net, s);
    if (!add) Eigen::Map<Vector<T>>(partial, P).setZero();
    put_partial(partial[P], accumulate_penalty_grad(net, s, pstates[t], subset, T(2) / T(N), partial), add);
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
