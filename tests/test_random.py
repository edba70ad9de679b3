"""The counter-based generator: known answers, C++ against the NumPy mirror, statistics, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from weightnoise import _core
from weightnoise import _philox as philox
from weightnoise.random import standard_normal

# Philox4x32-10 known answers: the three "philox4x32 10" lines of Random123's
# kat_vectors (counter words, key words, expected output words).
KAT = [
    (
        (0x00000000, 0x00000000, 0x00000000, 0x00000000),
        (0x00000000, 0x00000000),
        (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8),
    ),
    (
        (0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF),
        (0xFFFFFFFF, 0xFFFFFFFF),
        (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD),
    ),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]

P = philox.Purpose
ULP64 = philox.NORMAL_ULP_BOUND  # float64 normals, C++ against NumPy (libm)
ULP32 = 1  # float32 normals: the float64 ones rounded
SEED = 20240531

# (first, count): odd and even starts, lengths off the batch size, a start near the end of a stream.
RANGES = [(0, 1), (1, 1), (0, 33), (1, 32), (7, 1000), (12345, 4097), (2**33 - 101, 101), (2**32 + 3, 64)]


def ulp_distance(a, b):
    """Units in the last place between equal-dtype float arrays (+0 and -0 are 0 apart)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    itype = {np.dtype(np.float64): np.int64, np.dtype(np.float32): np.int32}[a.dtype]
    ia, ib = a.view(itype).astype(np.int64), b.view(itype).astype(np.int64)
    magnitude = np.int64(np.iinfo(itype).max)
    # Map the sign-magnitude bit patterns onto a line on which neighbouring floats are 1 apart.
    ia = np.where(ia < 0, -(ia & magnitude), ia)
    ib = np.where(ib < 0, -(ib & magnitude), ib)
    return np.abs(ia - ib)


@pytest.fixture
def threads():
    """Set the thread count for one test, restoring OpenMP's default afterwards."""
    yield _core.set_num_threads
    _core.set_num_threads(0)


# --- Philox4x32-10 ---------------------------------------------------------------------------


@pytest.mark.parametrize("counter, key, expected", KAT)
def test_cpp_philox_matches_random123_known_answers(counter, key, expected):
    assert tuple(_core.philox4x32_10(list(counter), *key)) == expected


@pytest.mark.parametrize("counter, key, expected", KAT)
def test_numpy_philox_matches_random123_known_answers(counter, key, expected):
    out = philox.philox4x32_10(np.array([counter], dtype=np.uint32), *key)
    assert out.dtype == np.uint32 and out.shape == (1, 4)
    assert tuple(int(w) for w in out[0]) == expected


def test_numpy_philox_matches_cpp_on_random_counters():
    rng = np.random.default_rng(1)
    counters = rng.integers(0, 2**32, size=(50, 4), dtype=np.uint64).astype(np.uint32)
    keys = rng.integers(0, 2**32, size=(50, 2), dtype=np.uint64)
    for c, (k0, k1) in zip(counters, keys):
        expected = _core.philox4x32_10([int(w) for w in c], int(k0), int(k1))
        assert philox.philox4x32_10(c[None, :], k0, k1)[0].tolist() == list(expected)


def test_stream_blocks_use_the_documented_counter_and_key():
    seed, purpose, draw, item = 0x0123456789ABCDEF, P.example_noise, 17, 4242
    blocks = philox.stream_blocks(seed, purpose, draw, item, [0, 5, 2**32 - 1])
    for row, b in zip(blocks, [0, 5, 2**32 - 1]):
        expected = _core.philox4x32_10([b, item, draw, int(purpose)], seed & 0xFFFFFFFF, seed >> 32)
        assert row.tolist() == list(expected)


def test_purpose_codes_are_distinct_and_stable():
    assert [int(p) for p in P] == list(range(1, len(P) + 1))
    assert P.standard_normal == 1 and P.hutchinson == 5


# --- uniforms, normals and signs: C++ against the NumPy mirror -----------------------------------


@pytest.mark.parametrize("first, count", RANGES)
def test_cpp_uniforms_equal_numpy_bitwise(first, count):
    for seed, purpose, draw, item in [(SEED, P.minibatch, 3, 0), (2**64 - 1, P.example_noise, 2**32 - 1, 9)]:
        cpp = _core.uniform_float64(count, seed, int(purpose), draw, item, first)
        ref = philox.uniform(seed, purpose, draw, item, first, count)
        assert cpp.dtype == np.float64 and np.array_equal(cpp, ref)
        assert np.all((0.0 <= cpp) & (cpp < 1.0))


def test_uniforms_are_the_53_high_bits_of_word_pairs():
    # Element e: words (2 (e % 2), 2 (e % 2) + 1) of block e // 2.
    w = philox.stream_blocks(SEED, P.minibatch, 0, 0, [0, 1]).astype(np.uint64)
    x = (w[:, 0::2] << np.uint64(32) | w[:, 1::2]) >> np.uint64(11)
    expected = (x.astype(np.float64) * 2.0**-53).ravel()
    assert np.array_equal(_core.uniform_float64(4, SEED, int(P.minibatch), 0, 0, 0), expected)


@pytest.mark.parametrize("first, count", RANGES)
def test_cpp_float64_normals_match_numpy_within_ulp_bound(first, count):
    for seed, purpose, draw, item in [(SEED, P.shared_noise, 0, 0), (5, P.local_noise, 123, 2**32 - 1)]:
        cpp = _core.normal_float64(count, seed, int(purpose), draw, item, first)
        ref = philox.normal(seed, purpose, draw, item, first, count)
        assert cpp.dtype == np.float64 and cpp.shape == (count,)
        assert ulp_distance(cpp, ref).max() <= ULP64


@pytest.mark.parametrize("first, count", RANGES)
def test_cpp_float32_normals_match_numpy_within_one_ulp(first, count):
    cpp = _core.normal_float32(count, SEED, int(P.example_noise), 2, 3, first)
    ref = philox.normal(SEED, P.example_noise, 2, 3, first, count, dtype=np.float32)
    assert cpp.dtype == np.float32
    assert ulp_distance(cpp, ref).max() <= ULP32
    # float32 normals are the float64 ones rounded.
    f64 = _core.normal_float64(count, SEED, int(P.example_noise), 2, 3, first)
    assert np.array_equal(cpp, f64.astype(np.float32))


def test_many_float64_normals_match_numpy_within_ulp_bound():
    n = 1_000_000
    cpp = _core.standard_normal_float64(n, SEED)
    ref = philox.normal(SEED, P.standard_normal, 0, 0, 0, n)
    distance = ulp_distance(cpp, ref)
    assert distance.max() <= ULP64
    # Most agree bitwise or to one ulp; the bound is for the tails of the error.
    assert np.mean(distance <= 1) > 0.99


def test_normals_at_the_extremes_of_u1_and_the_angle():
    # Search a stream for the blocks whose uniforms come nearest the edges
    # (u1 near 2**-53 and 1; angles near multiples of pi/2) and check those elements.
    n = 2**20
    blocks = philox.stream_blocks(SEED, P.shared_noise, 0, 0, np.arange(n // 2))

    def hi(j):  # the 53 high bits of words (j, j + 1)
        return (blocks[:, j].astype(np.uint64) << np.uint64(32) | blocks[:, j + 1]) >> np.uint64(11)

    x1, x2 = hi(0).astype(np.float64), hi(2).astype(np.float64)
    quarter = np.abs(x2 * 2.0**-51 - np.round(x2 * 2.0**-51))  # distance of 4 u2 to an integer
    picks = np.unique(np.concatenate([np.argsort(x1)[:20], np.argsort(-x1)[:20], np.argsort(quarter)[:40]]))
    for b in picks:
        cpp = _core.normal_float64(2, SEED, int(P.shared_noise), 0, 0, 2 * int(b))
        ref = philox.normal(SEED, P.shared_noise, 0, 0, 2 * int(b), 2)
        assert ulp_distance(cpp, ref).max() <= ULP64


@pytest.mark.parametrize("first, count", [(0, 1), (5, 130), (127, 2), (1000, 5000), (2**39 - 3, 3)])
def test_cpp_rademacher_equals_numpy_bitwise(first, count):
    cpp = _core.rademacher_float64(count, SEED, int(P.hutchinson), 4, 0, first)
    ref = philox.rademacher(SEED, P.hutchinson, 4, 0, first, count)
    assert np.array_equal(cpp, ref)


def test_rademacher_bits_follow_the_documented_schedule():
    # Element e: bit e % 32 of word (e % 128) // 32 of block e // 128; set -> +1.
    w = philox.stream_blocks(SEED, P.hutchinson, 0, 0, [0, 1])
    e = np.arange(256)
    bits = (w[e // 128, (e % 128) // 32].astype(np.uint64) >> (e % 32).astype(np.uint64)) & np.uint64(1)
    assert np.array_equal(
        _core.rademacher_float64(256, SEED, int(P.hutchinson), 0, 0, 0), np.where(bits == 1, 1.0, -1.0)
    )


def test_a_fill_does_not_depend_on_where_it_starts():
    whole = _core.normal_float64(1000, SEED, int(P.local_noise), 1, 2, 0)
    for first in [1, 2, 31, 32, 33, 500, 999]:
        part = _core.normal_float64(1000 - first, SEED, int(P.local_noise), 1, 2, first)
        assert np.array_equal(part, whole[first:])


def test_a_fill_does_not_depend_on_its_length():
    # The ends of a fill run in smaller batches of blocks than its bulk: every
    # batch size must give the same bits (lengths past 2 batches of 64 normals).
    whole = _core.normal_float64(400, SEED, int(P.local_noise), 1, 2, 0)
    u = _core.uniform_float64(400, SEED, int(P.local_noise), 1, 2, 0)
    for first in [0, 1, 7, 16, 17, 63]:
        for count in range(1, 150):
            part = _core.normal_float64(count, SEED, int(P.local_noise), 1, 2, first)
            assert np.array_equal(part, whole[first:first + count]), (first, count)
            part = _core.uniform_float64(count, SEED, int(P.local_noise), 1, 2, first)
            assert np.array_equal(part, u[first:first + count]), (first, count)


def test_rows_of_streams_in_shared_batches_are_each_stream_alone():
    # Local noise draws a chunk's rows (one stream per example) as one sequence of
    # blocks, so a batch spans rows; every row must still be its stream's own fill.
    rng = np.random.default_rng(5)
    for rows in [1, 2, 3, 7, 33, 128]:
        for count in [1, 2, 3, 15, 16, 17, 63, 64, 65, 127, 128, 129, 130, 200]:
            items = rng.integers(0, 2**32, rows, dtype=np.uint32)
            got = _core.normal_rows_float64(items, count, SEED, int(P.local_noise), 3)
            want = np.stack([_core.normal_float64(count, SEED, int(P.local_noise), 3, int(i)) for i in items])
            assert np.array_equal(got, want), (rows, count)
    assert _core.normal_rows_float64(np.zeros(0, np.uint32), 5, SEED, 4, 0).shape == (0, 5)
    assert _core.normal_rows_float64(np.zeros(3, np.uint32), 0, SEED, 4, 0).shape == (3, 0)


def test_the_numpy_mirror_does_not_depend_on_where_it_starts():
    whole = philox.normal(SEED, P.local_noise, 1, 2, 0, 300)
    assert np.array_equal(philox.normal(SEED, P.local_noise, 1, 2, 77, 223), whole[77:])
    u = philox.uniform(SEED, P.local_noise, 1, 2, 0, 300)
    assert np.array_equal(philox.uniform(SEED, P.local_noise, 1, 2, 3, 297), u[3:])


# --- statistics ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def million():
    return _core.standard_normal_float64(10**6, SEED)


def test_normal_mean_and_variance_within_five_standard_errors(million):
    n = million.size
    assert abs(million.mean()) < 5 / np.sqrt(n)  # SE of the mean: 1/sqrt(n)
    assert abs(million.var() - 1) < 5 * np.sqrt(2 / n)  # SE of the variance: sqrt(2/n)


def test_normal_higher_moments(million):
    n = million.size
    z = million
    assert abs(np.mean(z**3)) < 5 * np.sqrt(15 / n)  # Var(z^3) = 15
    assert abs(np.mean(z**4) - 3) < 5 * np.sqrt(96 / n)  # Var(z^4) = 105 - 9


def test_normals_pass_kolmogorov_smirnov(million):
    # Fixed seed, so deterministic; p > 1e-4 would fail by chance once in 10^4 seeds.
    assert stats.kstest(million, "norm").pvalue > 1e-4


def test_float32_normals_pass_kolmogorov_smirnov():
    x = _core.standard_normal_float32(10**6, SEED + 1).astype(np.float64)
    assert stats.kstest(x, "norm").pvalue > 1e-4


def test_uniforms_pass_kolmogorov_smirnov():
    u = _core.uniform_float64(10**6, SEED, int(P.minibatch), 0, 0, 0)
    assert stats.kstest(u, "uniform").pvalue > 1e-4


def test_even_and_odd_elements_are_uncorrelated(million):
    # The cos and sin halves of one Box-Muller pair are uncorrelated (and independent).
    even, odd = million[0::2], million[1::2]
    assert abs(np.corrcoef(even, odd)[0, 1]) < 5 / np.sqrt(even.size)


@pytest.mark.parametrize(
    "other",
    [
        dict(seed=SEED + 1),
        dict(seed=SEED + 2**32),  # differs only in the high key word
        dict(purpose=P.shared_noise),
        dict(draw=1),
        dict(draw=2**31),
        dict(item=1),
    ],
    ids=["seed", "seed-high-word", "purpose", "draw", "draw-high-bit", "item"],
)
def test_streams_differing_in_any_coordinate_are_independent(other):
    n = 200_000
    base = dict(seed=SEED, purpose=P.example_noise, draw=0, item=0)
    changed = {**base, **other}
    a = _core.normal_float64(n, base["seed"], int(base["purpose"]), base["draw"], base["item"], 0)
    b = _core.normal_float64(n, changed["seed"], int(changed["purpose"]), changed["draw"], changed["item"], 0)
    assert not np.any(a == b)
    assert abs(np.corrcoef(a, b)[0, 1]) < 5 / np.sqrt(n)


def test_rademacher_mean_and_balance():
    n = 10**6
    v = _core.rademacher_float64(n, SEED, int(P.hutchinson), 0, 0, 0)
    assert set(np.unique(v)) == {-1.0, 1.0}
    assert abs(v.mean()) < 5 / np.sqrt(n)  # SE of the mean of +-1: 1/sqrt(n)
    # Balanced within every bit position of the 32-bit words, and neighbours uncorrelated.
    per_bit = v.reshape(-1, 32).mean(axis=0)
    assert np.all(np.abs(per_bit) < 5 / np.sqrt(n / 32))
    assert abs(np.mean(v[1:] * v[:-1])) < 5 / np.sqrt(n)


# --- standard_normal --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_standard_normal_is_bitwise_identical_for_one_and_two_threads(threads, dtype):
    n = 3 * 2**14 + 5  # several parallel pieces and a ragged end
    threads(1)
    one = standard_normal(n, seed=SEED, dtype=dtype)
    threads(2)
    two = standard_normal(n, seed=SEED, dtype=dtype)
    assert one.dtype == dtype and np.array_equal(one, two)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_standard_normal_matches_the_numpy_mirror(dtype):
    x = standard_normal((37, 11), seed=7, dtype=dtype)
    assert x.shape == (37, 11) and x.dtype == dtype
    ref = philox.normal(7, P.standard_normal, 0, 0, 0, x.size, dtype=dtype)
    assert ulp_distance(x.ravel(), ref).max() <= (ULP64 if dtype == np.float64 else ULP32)


def test_standard_normal_is_a_prefix_of_longer_requests():
    assert np.array_equal(standard_normal(100, seed=3), standard_normal(1000, seed=3)[:100])
    assert np.array_equal(standard_normal((4, 5), seed=3).ravel(), standard_normal(20, seed=3))


def test_standard_normal_seeds_give_different_samples():
    assert not np.array_equal(standard_normal(10, seed=0), standard_normal(10, seed=1))
    assert np.array_equal(standard_normal(10), standard_normal(10, seed=0))


@pytest.mark.parametrize(
    "shape, expected",
    [(0, (0,)), ((), ()), ((3, 0, 2), (3, 0, 2)), ([2, 3], (2, 3)), (np.int64(4), (4,)), ((np.int32(2), 3), (2, 3))],
)
def test_standard_normal_shapes(shape, expected):
    assert standard_normal(shape, seed=1).shape == expected


def test_standard_normal_accepts_the_full_seed_range():
    for seed in [0, 2**32, 2**64 - 1, np.uint64(2**64 - 1)]:
        assert np.all(np.isfinite(standard_normal(8, seed=seed)))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(seed=-1), ValueError, "seed"),
        (dict(seed=2**64), ValueError, "seed"),
        (dict(seed=1.0), TypeError, "seed"),
        (dict(seed="1"), TypeError, "seed"),
        (dict(seed=True), TypeError, "seed"),
        (dict(seed=None), TypeError, "seed"),
        (dict(dtype=np.float16), TypeError, "dtype"),
        (dict(dtype=np.int64), TypeError, "dtype"),
        (dict(dtype="complex128"), TypeError, "dtype"),
        (dict(dtype="not a dtype"), TypeError, "dtype"),
    ],
)
def test_standard_normal_rejects_bad_seed_and_dtype(kwargs, error, match):
    with pytest.raises(error, match=match):
        standard_normal(3, **kwargs)


@pytest.mark.parametrize(
    "shape, error",
    [
        (-1, ValueError),
        ((2, -3), ValueError),
        (2.0, TypeError),
        ((2, 1.5), TypeError),
        ("3", TypeError),
        (None, TypeError),
        ((True, 2), TypeError),
        (2**33, ValueError),
        ((2**17, 2**16), ValueError),
    ],
)
def test_standard_normal_rejects_bad_shapes(shape, error):
    with pytest.raises(error, match="shape"):
        standard_normal(shape)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_standard_normal_fills_out_in_place_with_the_same_samples(dtype):
    for shape in [(0,), (1,), (7,), (37, 11), (3, 4, 5)]:
        out = np.full(shape, np.nan, dtype=dtype)
        assert standard_normal(seed=SEED, out=out) is out
        assert np.array_equal(out, standard_normal(shape, seed=SEED, dtype=dtype))
        assert standard_normal(shape, SEED, dtype, out=out) is out  # shape and dtype may be repeated
    view = np.zeros((4, 10), dtype=dtype)[1:3]  # a C-contiguous view: filled, its neighbours untouched
    standard_normal(seed=SEED, out=view)
    assert np.array_equal(view.ravel(), standard_normal(20, seed=SEED, dtype=dtype))
    assert not view.base[[0, 3]].any()


@pytest.mark.parametrize(
    "out, kwargs, error, match",
    [
        ([0.0, 0.0], {}, TypeError, "out must be a numpy.ndarray"),
        (np.zeros(3, np.int64), {}, TypeError, "float32 or float64"),
        (np.zeros(3, np.float16), {}, TypeError, "float32 or float64"),
        (np.zeros(3), dict(dtype=np.float32), TypeError, "does not match out's dtype"),
        (np.zeros(3), dict(shape=4), ValueError, "does not match out's shape"),
        (np.zeros((3, 2)), dict(shape=(2, 3)), ValueError, "does not match out's shape"),
        (np.zeros((3, 4))[:, ::2], {}, ValueError, "C-contiguous"),
        (np.zeros((3, 4)).T, {}, ValueError, "C-contiguous"),
        (np.zeros(3), dict(seed=-1), ValueError, "seed"),
    ],
)
def test_standard_normal_rejects_a_bad_out(out, kwargs, error, match):
    with pytest.raises(error, match=match):
        standard_normal(out=out, **kwargs)


def test_standard_normal_rejects_a_read_only_out_and_no_shape():
    out = np.zeros(3)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        standard_normal(out=out)
    assert not out.any()
    with pytest.raises(TypeError, match="needs a shape"):
        standard_normal()


def test_core_rejects_ranges_past_the_end_of_a_stream():
    with pytest.raises(ValueError, match="2\\*\\*33"):
        _core.standard_normal_float64(10, 0, 2**33 - 5)
    with pytest.raises(ValueError, match="non-negative"):
        _core.uniform_float64(-1, 0, 1, 0, 0, 0)
    assert _core.standard_normal_float64(5, 0, 2**33 - 5).shape == (5,)


# --- Box-Muller at chosen uniforms ------------------------------------------------------------


def _words(x1, x2):
    """Blocks whose 53-bit uniforms are x1 (words 0, 1) and x2 (words 2, 3); the 11 low bits set."""
    x1, x2 = np.asarray(x1, dtype=np.uint64), np.asarray(x2, dtype=np.uint64)
    w = np.empty((x1.size, 4), dtype=np.uint64)
    for j, x in [(0, x1), (2, x2)]:
        full = (x << np.uint64(11)) | np.uint64(0x7FF)  # the discarded bits must not matter
        w[:, j], w[:, j + 1] = full >> np.uint64(32), full & np.uint64(0xFFFFFFFF)
    return w.astype(np.uint32)


def test_box_muller_at_the_ends_of_u1_and_at_multiples_of_quarter_turns():
    # u1 = 2**-53 (x1 = 0: the largest radius, about 8.57) and u1 = 1 (x1 = 2**53 - 1: radius 0), and
    # u2 at and next to each eighth of a turn, where cos or sin of fl(2 pi u2) is tiny (down to 6e-17).
    ends = [0, 1, 2, 2**52, 2**53 - 2, 2**53 - 1]
    angles = [k * 2**50 + d for k in range(8) for d in range(-3, 4) if 0 <= k * 2**50 + d < 2**53]
    x1, x2 = (a.ravel() for a in np.meshgrid(ends, angles))
    blocks = _words(x1, x2)
    cpp = _core.box_muller_float64(blocks)
    ref = philox.box_muller(blocks)
    assert cpp.shape == ref.shape == (2 * len(x1),)
    assert ulp_distance(cpp, ref).max() <= ULP64
    r = np.hypot(*cpp.reshape(-1, 2).T)
    assert np.all(r[x1 == 2**53 - 1] == 0)  # u1 = 1
    assert np.allclose(r[x1 == 0], np.sqrt(106 * np.log(2)), rtol=1e-15, atol=0)  # u1 = 2**-53


def test_box_muller_matches_the_stream_normals():
    blocks = philox.stream_blocks(SEED, P.example_noise, 1, 2, np.arange(50))
    assert np.array_equal(_core.box_muller_float64(blocks), _core.normal_float64(100, SEED, int(P.example_noise), 1, 2))
