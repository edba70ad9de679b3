#include "weightnoise/gradients.hpp"

#include "weightnoise/chunk.hpp"
#include "weightnoise/roperator.hpp"

namespace weightnoise {

template <class T>
void predict(const Network<T>& net, ConstMatrixRef<T> X, VectorRef<T> out) {
  auto states = per_thread<ChunkState<T>>(net.layout);
  for_each_chunk(X.rows(), [&](Index begin, Index rows, int t) {
    forward(net, X.middleRows(begin, rows), states[t], Derivatives::none);
    out.segment(begin, rows) = states[t].output();
  });
}

template <class T>
T loss(const Network<T>& net, ConstMatrixRef<T> X, ConstVectorRef<T> y) {
  auto states = per_thread<ChunkState<T>>(net.layout);
  T sum;
  sum_over_chunks<T>(X.rows(), 1, &sum, [&](Index begin, Index rows, int t, T* partial, bool add) {
    forward(net, X.middleRows(begin, rows), states[t], Derivatives::none);
    put_partial(*partial, (states[t].output() - y.segment(begin, rows)).squaredNorm(), add);
  });
  return sum / T(X.rows());
}

template <class T>
T loss_grad(const Network<T>& net, ConstMatrixRef<T> X, ConstVectorRef<T> y, VectorRef<T> grad) {
  const Index N = X.rows(), P = net.layout.n_params();
  auto states = per_thread<ChunkState<T>>(net.layout);
  // Entry P of the sum carries Σ r², so J comes out of the same pass.
  Vector<T> total(P + 1);
  sum_over_chunks<T>(N, P + 1, total.data(), [&](Index begin, Index rows, int t, T* partial, bool add) {
    ChunkState<T>& s = states[t];
    forward(net, X.middleRows(begin, rows), s, Derivatives::first);
    backward(net, s);
    auto r = s.residual.head(rows);
    r = s.output() - y.segment(begin, rows);
    write_vjp(net, s, (T(2) / T(N)) * r, partial, add);
    put_partial(partial[P], r.squaredNorm(), add);
  });
  grad = total.head(P);
  return total[P] / T(N);
}

template <class T>
void vjp(const Network<T>& net, ConstMatrixRef<T> X, ConstVectorRef<T> u, VectorRef<T> grad) {
  const Index P = net.layout.n_params();
  auto states = per_thread<ChunkState<T>>(net.layout);
  sum_over_chunks<T>(X.rows(), P, grad.data(), [&](Index begin, Index rows, int t, T* partial, bool add) {
    ChunkState<T>& s = states[t];
    forward(net, X.middleRows(begin, rows), s, Derivatives::first);
    backward(net, s);
    write_vjp(net, s, u.segment(begin, rows), partial, add);
  });
}

template <class T>
void jvp(const Network<T>& net, ConstMatrixRef<T> X, ConstVectorRef<T> v, VectorRef<T> out) {
  auto states = per_thread<ChunkState<T>>(net.layout);
  auto rstates = per_thread<RState<T>>(net.layout);
  for_each_chunk(X.rows(), [&](Index begin, Index rows, int t) {
    forward(net, X.middleRows(begin, rows), states[t], Derivatives::first);
    r_forward(net, states[t], rstates[t], shared_forward_source(net, states[t], v.data()));
    out.segment(begin, rows) = rstates[t].rz.back().col(0).head(rows);
  });
}

template <class T>
void per_example_grads(const Network<T>& net, ConstMatrixRef<T> X, MatrixRef<T> out) {
  const Layout& layout = net.layout;
  auto states = per_thread<ChunkState<T>>(layout);
  for_each_chunk(X.rows(), [&](Index begin, Index rows, int t) {
    ChunkState<T>& s = states[t];
    forward(net, X.middleRows(begin, rows), s, Derivatives::first);
    backward(net, s);
    for (Index n = 0; n < rows; ++n) {
      T* g = out.row(begin + n).data();
      for (Index l = 0; l < net.n_layers(); ++l) {
        // ∂ŷ/∂W_l = δ_l a_lᵀ (rank one), ∂ŷ/∂b_l = δ_l.
        layout.weight(g, l).noalias() = s.delta[l].row(n).transpose() * s.a[l].row(n);
        layout.bias(g, l) = s.delta[l].row(n).transpose();
      }
    }
  });
}

template <class T>
void grad_norms_sq(const Network<T>& net, ConstMatrixRef<T> X, const ParamSubset& subset, VectorRef<T> out) {
  auto states = per_thread<ChunkState<T>>(net.layout);
  auto norms = per_thread<Vector<T>>(kChunkRows);
  for_each_chunk(X.rows(), [&](Index begin, Index rows, int t) {
    forward(net, X.middleRows(begin, rows), states[t], Derivatives::first);
    backward(net, states[t]);
    // Reduced in an aligned buffer, then copied: see sum_over_chunks.
    auto g2 = norms[t].head(rows);
    chunk_grad_norms_sq(net, states[t], subset, g2);
    out.segment(begin, rows) = g2;
  });
}

template <class T>
T penalty(const Network<T>& net, ConstMatrixRef<T> X, const ParamSubset& subset) {
  auto states = per_thread<ChunkState<T>>(net.layout);
  auto norms = per_thread<Vector<T>>(kChunkRows);
  T sum;
  sum_over_chunks<T>(X.rows(), 1, &sum, [&](Index begin, Index rows, int t, T* partial, bool add) {
    forward(net, X.middleRows(begin, rows), states[t], Derivatives::first);
    backward(net, states[t]);
    auto g2 = norms[t].head(rows);
    chunk_grad_norms_sq(net, states[t], subset, g2);
    put_partial(*partial, g2.sum(), add);
  });
  return sum / T(X.rows());
}

#define WEIGHTNOISE_INSTANTIATE(T)                                                                   \
  template void predict<T>(const Network<T>&, ConstMatrixRef<T>, VectorRef<T>);                      \
  template T loss<T>(const Network<T>&, ConstMatrixRef<T>, ConstVectorRef<T>);                       \
  template T loss_grad<T>(const Network<T>&, ConstMatrixRef<T>, ConstVectorRef<T>, VectorRef<T>);    \
  template void vjp<T>(const Network<T>&, ConstMatrixRef<T>, ConstVectorRef<T>, VectorRef<T>);       \
  template void jvp<T>(const Network<T>&, ConstMatrixRef<T>, ConstVectorRef<T>, VectorRef<T>);       \
  template void per_example_grads<T>(const Network<T>&, ConstMatrixRef<T>, MatrixRef<T>);            \
  template void grad_norms_sq<T>(const Network<T>&, ConstMatrixRef<T>, const ParamSubset&, VectorRef<T>); \
  template T penalty<T>(const Network<T>&, ConstMatrixRef<T>, const ParamSubset&);
WEIGHTNOISE_INSTANTIATE(float)
WEIGHTNOISE_INSTANTIATE(double)

}  // namespace weightnoise
