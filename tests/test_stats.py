"""vdi_core.stats: hand-computed cases, and calibration of the 95 % intervals by simulation."""

import math

import numpy as np
import pytest

from vdi_core.stats import mean_ci, paired_diff_ci, seeds_needed, verdict


def test_one_seed_hand_case_is_a_paired_query_bootstrap():
    a = [[1, 0, 1, 1]]
    b = [[0, 0, 1, 0]]
    diff, lo, hi = paired_diff_ci(a, b)
    # differences 1, 0, 0, 1: mean 0.5 (x100); a resampled mean is Binomial(4, 1/2)/4, whose 2.5 %
    # and 97.5 % quantiles are 0 and 1 (P(0) = P(4) = 1/16 > 2.5 %).
    assert diff == 50.0 and lo == 0.0 and hi == 100.0


def test_identical_rows_give_a_zero_interval():
    a = np.random.default_rng(0).random((3, 50))
    assert paired_diff_ci(a, a) == (0.0, 0.0, 0.0)


def test_seed_noise_only_is_the_t_interval_over_seeds():
    # every query differs by the seed's amount c_s: no query noise, a t(2) interval over 3 seeds
    c = np.array([0.1, 0.2, 0.3])
    a = np.tile(c[:, None], (1, 40)) + 0.5
    b = np.full((3, 40), 0.5)
    diff, lo, hi = paired_diff_ci(a, b)
    half = 4.302652729749 * 0.1 / math.sqrt(3) * 100
    assert diff == pytest.approx(20.0) and lo == pytest.approx(20 - half) and hi == pytest.approx(20 + half)


def test_scale_and_mean_ci_and_determinism():
    rng = np.random.default_rng(1)
    a = rng.random((3, 200))
    b = rng.random((3, 200))
    d100 = paired_diff_ci(a, b, seed=7)
    d1 = paired_diff_ci(a, b, seed=7, scale=1.0)
    assert d100 == paired_diff_ci(a, b, seed=7)  # deterministic for a given seed
    assert np.allclose(np.array(d1) * 100, d100)
    assert mean_ci(a - b, seed=7) == pytest.approx(d100)
    assert d100[0] == pytest.approx((a.mean() - b.mean()) * 100)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="same shape"):
        paired_diff_ci(np.zeros((3, 10)), np.zeros((2, 10)))
    with pytest.raises(ValueError, match="NaN"):
        paired_diff_ci([[0.0, np.nan]], [[0.0, 1.0]])


def test_verdict_directions():
    assert verdict(0.1, 2.0) == "holds"
    assert verdict(-2.0, -0.1) == "contradicted"
    assert verdict(-1.0, 1.0) == "undecided"
    assert verdict(0.1, 2.0, margin=0.5) == "undecided"
    assert verdict(-2.0, -0.6, margin=0.5) == "contradicted"


def test_verdict_follows_the_true_difference():
    rng = np.random.default_rng(3)
    base = rng.uniform(0.2, 0.6, 2000)
    b = (rng.random((3, 2000)) < base).astype(float)
    better = (rng.random((3, 2000)) < base + 0.15).astype(float)
    worse = (rng.random((3, 2000)) < base - 0.15).astype(float)
    assert verdict(*paired_diff_ci(better, b)[1:]) == "holds"
    assert verdict(*paired_diff_ci(worse, b)[1:]) == "contradicted"
    assert verdict(*paired_diff_ci(b[:, :50], b[::-1, :50])[1:]) == "undecided"


def test_seeds_needed_hand_case():
    # seed noise only: per-seed variance 0.01, effect 0.1: the smallest n with
    # t_{n-1} * sqrt(0.01 / n) < 0.1, i.e. t_{n-1} < sqrt(n): t_5 = 2.571 > 2.449, t_6 = 2.447 < 2.646 -> 7
    c = np.array([0.0, 0.1, 0.2])
    a = np.tile(c[:, None], (1, 40))
    assert seeds_needed(a, np.zeros_like(a)) == 7
    assert seeds_needed(a[:1], np.zeros_like(a[:1])) is None  # one seed: no seed variance to go on
    assert seeds_needed(a, a) is None  # no effect
    # a claimed margin of 0.05 leaves an effect of 0.05 to clear: t_{n-1} < sqrt(n) / 2 first at
    # n = 18 (t_17 = 2.110 < 2.121; t_16 = 2.120 > 2.062); 0.1 below a margin of 0.2 is as far from
    # settled as 0.1 above 0
    assert seeds_needed(a, np.zeros_like(a), margin=0.05) == 18
    assert seeds_needed(a, np.zeros_like(a), margin=0.2) == 7
    # a shared per-query effect whose noise alone exceeds the effect: seeds cannot settle it
    u = np.tile(np.random.default_rng(0).normal(0, 1.0, 40), (3, 1))
    assert seeds_needed(a + u - u.mean(), np.zeros_like(a)) is None

def _simulate(rng, seeds, queries, delta, tau, continuous=False):
    """One table: per-query outcomes of two rows with true difference `delta` (raw units).
    Queries share a difficulty (and a per-query effect around delta); each row's seeds shift its
    success probability by N(0, tau). Returns a, b and the truth the interval should cover:
    delta, or with one seed, delta plus that seed's own shift (one seed cannot show seed noise)."""
    base = rng.uniform(0.25, 0.6, queries)
    effect = delta + rng.uniform(-0.05, 0.05, queries)  # population mean: delta
    va, vb = rng.normal(0, tau, seeds), rng.normal(0, tau, seeds)
    pa = base[None] + effect[None] + va[:, None]
    pb = base[None] + vb[:, None]
    if continuous:  # IoU-like outcomes in [0, 1] with the same means
        a = np.clip(pa + rng.uniform(-0.2, 0.2, (seeds, queries)), 0, 1)
        b = np.clip(pb + rng.uniform(-0.2, 0.2, (seeds, queries)), 0, 1)
    else:  # R@k hits
        a = (rng.random((seeds, queries)) < pa).astype(float)
        b = (rng.random((seeds, queries)) < pb).astype(float)
    truth = delta + ((va - vb).mean() if seeds == 1 else 0.0)
    return a, b, truth * 100


# seed-level effect tau: the paired difference's seed noise (tau * sqrt 2 = 0.042) is comparable
# to its query noise over 300 queries (about sqrt(0.48 / 300) = 0.040).
@pytest.mark.parametrize("seeds,delta,tau,continuous", [
    (1, 0.0, 0.0, False), (1, 0.05, 0.03, False), (3, 0.0, 0.03, False), (3, 0.05, 0.03, False),
    (3, 0.03, 0.03, True)])
def test_95_intervals_cover_the_truth(seeds, delta, tau, continuous):
    rng = np.random.default_rng(2024 + seeds)
    covered, n_tables = 0, 1000
    for _ in range(n_tables):
        a, b, truth = _simulate(rng, seeds, 300, delta, tau, continuous)
        # 1,000 resamples per table keeps the test fast (the coverage is over 1,000 tables); one
        # resampling seed for all: the tables differ, and continuous outcomes reuse the cached draws
        _, lo, hi = paired_diff_ci(a, b, n_boot=1000, seed=0)
        covered += lo <= truth <= hi
    print(f"coverage seeds={seeds} delta={delta} tau={tau} continuous={continuous}: {covered / n_tables:.3f}")
    assert 0.93 <= covered / n_tables <= 0.97
