#include "weightnoise/hessian_trace.hpp"

#include "weightnoise/chunk.hpp"
#include "weightnoise/random.hpp"

namespace weightnoise {

namespace {

// Per-thread buffers for the exact trace.
template <class T>
struct TraceState {
  ChunkState<T> s;
  RowMatrix<T> e;              // (B, max d)  σ''(z_l) ⊙ g_l
  RowMatrix<T> diag_k;         // (B, max d)  diag(W_{l+1}ᵀ M_{l+1} W_{l+1}) per example
  RowMatrix<T> M, MW, K;       // (max d, max d) one example's dense M_l and products
  Vector<T> tr;                // (B) tr M_l of one layer
  Vector<T> trace;             // (B) tr H_n, reduced here (aligned) before the copy out
  Vector<T> norms;             // (B) ‖g_n‖², for the penalty
  explicit TraceState(const Layout& layout)
      : s(layout),
        e(kChunkRows, layout.max_width()),
        diag_k(kChunkRows, layout.max_width()),
        M(layout.max_width(), layout.max_width()),
        MW(layout.max_width(), layout.max_width()),
        K(layout.max_width(), layout.max_width()),
        tr(kChunkRows),
        trace(kChunkRows),
        norms(kChunkRows) {}
};

// Adds tr H_n of the chunk to trace (B), after the forward pass (second
// derivatives) and backward pass in ts.s. Layers l < L−1 contribute
// (‖a_l‖²·[W_l] + [b_l]) tr M_l; the output layer has M_{L−1} = 0.
template <class T, class Trace>
void exact_chunk_trace(const Network<T>& net, const ParamSubset& subset, const RowMatrix<T>& W_sq,
                       TraceState<T>& ts, Trace& trace) {
  const Layout& layout = net.layout;
  const Index L = net.n_layers();
  ChunkState<T>& s = ts.s;
  const Index rows = s.rows;
  if (L < 2) return;  // ŷ is linear in θ
  auto add_layer = [&](Index l, const auto& tr_M) {
    const T w = subset.weights[l] ? T(1) : T(0), b = subset.biases[l] ? T(1) : T(0);
    trace.array() += tr_M.array() * (w * s.top(s.a[l]).rowwise().squaredNorm().array() + b);
  };
  // e_l = σ''(z_l) ⊙ g_l, the diagonal part of M_l.
  auto e_of = [&](Index l) {
    auto e = scratch_of(ts.e, rows, layout.fan_out(l));
    e.array() = s.top(s.d2[l]).array() * s.top(s.g[l]).array();
    return e;
  };
  auto tr = ts.tr.head(rows);
  // l = L−2: M_{L−2} = diag(e_{L−2}).
  tr = e_of(L - 2).rowwise().sum();
  add_layer(L - 2, tr);
  if (L < 3) return;
  // l = L−3: diag(K)_j = Σ_i W_{L−2}[i, j]² e_{L−2, i}, one batched product.
  {
    const Index l = L - 3;
    auto diag_k = scratch_of(ts.diag_k, rows, layout.fan_out(l));
    diag_k.noalias() = e_of(L - 2) * W_sq;
    tr = (s.top(s.d1[l]).array().square() * diag_k.array()).rowwise().sum().matrix();
    tr += e_of(l).rowwise().sum();
    add_layer(l, tr);
  }
  if (L < 4) return;
  // l ≤ L−4: dense M_l per example.
  for (Index n = 0; n < rows; ++n) {
    T tr_total = 0;
    // M_{L−3} = D K D + diag(e_{L−3}),  K = W_{L−2}ᵀ diag(e_{L−2}) W_{L−2}.
    {
      const Index l = L - 3, d = layout.fan_out(l);
      const auto W = net.weight(l + 1);
      const auto e_next = s.d2[l + 1].row(n).array() * s.g[l + 1].row(n).array();
      auto MW = ts.MW.topLeftCorner(W.rows(), d);
      MW = W.array().colwise() * e_next.transpose();
      auto M = ts.M.topLeftCorner(d, d);
      M.noalias() = W.transpose() * MW;
      const auto d1 = s.d1[l].row(n).array();
      M.array().rowwise() *= d1;
      M.array().colwise() *= d1.transpose();
      M.diagonal().array() += s.d2[l].row(n).transpose().array() * s.g[l].row(n).transpose().array();
    }
    for (Index l = L - 4; l >= 0; --l) {
      const Index d = layout.fan_out(l), d_next = layout.fan_out(l + 1);
      const auto W = net.weight(l + 1);  // (d_next, d)
      auto MW = ts.MW.topLeftCorner(d_next, d);
      MW.noalias() = ts.M.topLeftCorner(d_next, d_next) * W;
      const auto d1 = s.d1[l].row(n).array();
      const auto e = s.d2[l].row(n).array() * s.g[l].row(n).array();
      // tr M_l = Σ_j σ'_j² diag(K)_j + Σ_j e_j,  diag(K)_j = Σ_i W_ij (M_{l+1} W)_ij.
      const T tr_l = (d1.square() * (W.array() * MW.array()).colwise().sum()).sum() + e.sum();
      tr_total += tr_l * subset.block_scale(l, s.a[l].row(n).squaredNorm());
      if (l > 0) {
        auto K = ts.K.topLeftCorner(d, d);
        K.noalias() = W.transpose() * MW;
        auto M = ts.M.topLeftCorner(d, d);
        M = K;
        M.array().rowwise() *= d1;
        M.array().colwise() *= d1.transpose();
        M.diagonal().array() += e.transpose();
      }
    }
    trace[n] += tr_total;
  }
}

// Squared weights of layer L−2, for diag(Wᵀ diag(m) W)_j = Σ_i W_ij² m_i.
template <class T>
RowMatrix<T> squared_weights(const Network<T>& net) {
  const Index L = net.n_layers();
  return L >= 3 ? RowMatrix<T>(net.weight(L - 2).array().square()) : RowMatrix<T>();
}

// tr H_n of the chunk x into ts.trace (B), with the passes it needs in ts.s.
template <class T, class X>
void chunk_trace(const Network<T>& net, const Eigen::MatrixBase<X>& x, const ParamSubset& subset,
                 const RowMatrix<T>& W_sq, TraceState<T>& ts) {
  forward(net, x, ts.s, Derivatives::second);
  backward(net, ts.s);
  auto trace = ts.trace.head(x.rows());
  trace.setZero();
  exact_chunk_trace(net, subset, W_sq, ts, trace);
}

}  // namespace

template <class T>
void hessian_trace_exact(const Network<T>& net, ConstMatrixRef<T> X, const ParamSubset& subset, VectorRef<T> out) {
  const RowMatrix<T> W_sq = squared_weights(net);
  auto states = per_thread<TraceState<T>>(net.layout);
  for_each_chunk(X.rows(), [&](Index begin, Index rows, int t) {
    chunk_trace(net, X.middleRows(begin, rows), subset, W_sq, states[t]);
    out.segment(begin, rows) = states[t].trace.head(rows);
  });
}

template <class T>
SecondOrderTerms<T> second_order_terms(const Network<T>& net, ConstMatrixRef<T> X, ConstVectorRef<T> y,
                                       const ParamSubset& subset) {
  const Index N = X.rows();
  const RowMatrix<T> W_sq = squared_weights(net);
  auto states = per_thread<TraceState<T>>(net.layout);
  T sums[3];  // Σ r², Σ ‖g_n‖², Σ r_n tr H_n
  sum_over_chunks<T>(N, 3, sums, [&](Index begin, Index rows, int t, T* partial, bool add) {
    TraceState<T>& ts = states[t];
    chunk_trace(net, X.middleRows(begin, rows), subset, W_sq, ts);
    auto r = ts.s.residual.head(rows);
    r = ts.s.output() - y.segment(begin, rows);
    auto norms = ts.norms.head(rows);
    chunk_grad_norms_sq(net, ts.s, subset, norms);
    put_partial(partial[0], r.squaredNorm(), add);
    put_partial(partial[1], norms.sum(), add);
    put_partial(partial[2], r.dot(ts.trace.head(rows)), add);
  });
  return {sums[0] / T(N), sums[1] / T(N), sums[2] / T(N)};
}

template <class T>
void hutchinson_probe(const Layout& layout, const ParamSubset& subset, std::uint64_t seed, Index k, T* v) {
  const Stream stream{seed, Purpose::hutchinson, std::uint32_t(k), 0};
  fill_rademacher(stream, 0, v, layout.n_params());
  for (Index l = 0; l < layout.n_layers(); ++l) {
    if (!subset.weights[l]) layout.weight(v, l).setZero();
    if (!subset.biases[l]) layout.bias(v, l).setZero();
  }
}

namespace {

template <class T>
struct ProbeState {
  ChunkState<T> s;
  Vector<T> v;                                  // (P) the probe
  std::vector<RowMatrix<T>> a_dot, a_ddot;      // (B, d_l) first and second derivatives of a_l along v
  RowMatrix<T> z_dot, z_ddot;                   // (B, max d)
  explicit ProbeState(const Layout& layout)
      : s(layout), v(layout.n_params()),
        z_dot(kChunkRows, layout.max_width()), z_ddot(kChunkRows, layout.max_width()) {
    for (Index l = 0; l < layout.n_layers(); ++l) {
      a_dot.emplace_back(kChunkRows, layout.fan_in(l));
      a_ddot.emplace_back(kChunkRows, layout.fan_in(l));
    }
  }
};

}  // namespace

template <class T>
void hessian_trace_hutchinson(const Network<T>& net, ConstMatrixRef<T> X, const ParamSubset& subset,
                              Index n_probes, std::uint64_t seed, VectorRef<T> out) {
  const Layout& layout = net.layout;
  const Index L = net.n_layers();
  auto states = per_thread<ProbeState<T>>(layout);
  const StopToken stop;  // many probes make one chunk long: poll between probes too
  for_each_chunk(X.rows(), [&](Index begin, Index rows, int t) {
    ProbeState<T>& ps = states[t];
    ChunkState<T>& s = ps.s;
    forward(net, X.middleRows(begin, rows), s, Derivatives::second);
    auto trace = out.segment(begin, rows);
    trace.setZero();
    for (Index k = 0; k < n_probes && !stop.stopped(); ++k) {
      hutchinson_probe(layout, subset, seed, k, ps.v.data());
      // ż_l = a_l V_lᵀ + v_l + ȧ_l W_lᵀ,   z̈_l = 2 ȧ_l V_lᵀ + ä_l W_lᵀ,
      // ȧ_{l+1} = σ' ⊙ ż_l,   ä_{l+1} = σ'' ⊙ ż_l² + σ' ⊙ z̈_l,   ȧ_0 = ä_0 = 0.
      for (Index l = 0; l < L; ++l) {
        const Index d = layout.fan_out(l);
        const auto V = layout.weight(ps.v.data(), l);
        auto z_dot = ps.z_dot.topLeftCorner(rows, d);
        auto z_ddot = ps.z_ddot.topLeftCorner(rows, d);
        z_dot.noalias() = s.top(s.a[l]) * V.transpose();
        z_dot.rowwise() += layout.bias(ps.v.data(), l).transpose();
        if (l > 0) {
          z_dot.noalias() += ps.a_dot[l].topRows(rows) * net.weight(l).transpose();
          z_ddot.noalias() = T(2) * ps.a_dot[l].topRows(rows) * V.transpose();
          z_ddot.noalias() += ps.a_ddot[l].topRows(rows) * net.weight(l).transpose();
        } else {
          z_ddot.setZero();
        }
        if (l + 1 < L) {
          ps.a_dot[l + 1].topRows(rows).array() = s.top(s.d1[l]).array() * z_dot.array();
          ps.a_ddot[l + 1].topRows(rows).array() =
              s.top(s.d2[l]).array() * z_dot.array().square() + s.top(s.d1[l]).array() * z_ddot.array();
        }
      }
      trace += ps.z_ddot.col(0).head(rows);
      stop.after_piece();
    }
    trace /= T(n_probes);
  });
}

#define WEIGHTNOISE_INSTANTIATE(T)                                                                          \
  template void hessian_trace_exact<T>(const Network<T>&, ConstMatrixRef<T>, const ParamSubset&, VectorRef<T>); \
  template void hessian_trace_hutchinson<T>(const Network<T>&, ConstMatrixRef<T>, const ParamSubset&, Index,    \
                                            std::uint64_t, VectorRef<T>);                                      \
  template void hutchinson_probe<T>(const Layout&, const ParamSubset&, std::uint64_t, Index, T*);               \
  template SecondOrderTerms<T> second_order_terms<T>(const Network<T>&, ConstMatrixRef<T>, ConstVectorRef<T>,  \
                                                     const ParamSubset&);
WEIGHTNOISE_INSTANTIATE(float)
WEIGHTNOISE_INSTANTIATE(double)

}  // namespace weightnoise
