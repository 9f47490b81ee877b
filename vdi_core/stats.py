"""Confidence intervals for the tables' claims: how much of a difference is eval-query noise, how
much training-seed noise. Pure numpy (plus the standard library), no torch.

The model (a two-way layout, rows = training seeds, columns = eval queries). For two table rows
evaluated on the same queries with paired seeds, the per-query difference is

    d[s, q] = a[s, q] - b[s, q] = mu + u_q + v_s + w_sq

u_q: the query's own effect (one sample of queries, shared by every seed and both rows),
v_s: the seed's effect (seed-to-seed variation of the paired difference), w_sq: the rest.
The estimate D = mean(d) has Var(D) = s_u^2/Q + s_v^2/S + s_w^2/(SQ).

- Query part: a bootstrap of the queries, the same resampled indices for a and b and every seed
  (so it resamples the per-query mean over seeds, dbar_q); it estimates s_u^2/Q + s_w^2/(SQ).
- Seed part: the seed means m_s = mean_q d[s, q] vary by s_v^2 + s_w^2/Q, so var(m_s)/S (the
  between-seed variance term) carries the seed noise and the residual, with only S - 1 degrees of
  freedom; the queries add their shared part s_u^2/Q, the bootstrap variance less the residual's
  share MS_res/(SQ) (two-way ANOVA mean square, clamped at 0). The interval uses a t quantile with
  Satterthwaite's degrees of freedom for the sum: when seeds dominate it is the t(S - 1) interval
  over seed means (4.30 instead of 1.96 with 3 seeds); naively resampling 3 seeds under-covers.
- The bootstrap's percentile interval keeps its asymmetry; its half-widths are scaled by
  t_df * sqrt(V_total) / (z * sqrt(V_bootstrap)). With one seed it is the paired query bootstrap
  as it stands (one seed cannot show seed noise: its interval is about that trained model).
- Calibration (tests/test_stats.py, 1,000 simulated tables each): 93-96 % coverage with 1 and
  3 seeds, null and non-null differences, a seed effect comparable to the query noise.

Units: `a` and `b` hold per-query outcomes in raw units (0/1 for R@k at an IoU, the IoU itself for
mIoU); the returned difference and bounds are multiplied by `scale`, 100 by default, the units of
the tables (R@k and mIoU x100). A metric already on the table's scale (Table 1's probe scores)
passes scale=1. Resampling is deterministic for a given `seed`.
"""

from __future__ import annotations

import math
from functools import lru_cache
from statistics import NormalDist

import numpy as np

HOLDS, CONTRADICTED, UNDECIDED = "holds", "contradicted", "undecided"
# Above this many distinct per-query differences the bootstrap resamples query indices; below it,
# it draws how often each distinct value is picked (a multinomial over the values, with their
# frequencies): the same distribution as resampling indices, at a fraction of the cost. R@k
# outcomes with S seeds have at most 2S + 1 distinct values.
_FEW_VALUES = 64
_COUNTS_CACHE_MAX = 40_000_000  # resample counts kept in memory (float32 cells), ~160 MB


def _as_2d(x, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 2:
        raise ValueError(f"{name} must be [seeds, queries] with at least 2 queries, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def paired_diff_ci(a, b, level: float = 0.95, n_boot: int = 10_000, seed: int = 0, *,
                   scale: float = 100.0) -> tuple[float, float, float]:
    """(diff, lo, hi) of mean(a) - mean(b), times `scale`; a and b are [seeds, queries] with
    seeds paired and the same queries in the same order (see the module docstring)."""
    a, b = _as_2d(a, "a"), _as_2d(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape [seeds, queries], got {a.shape} and {b.shape}")
    return _interval(a - b, level, n_boot, seed, scale)


def mean_ci(a, level: float = 0.95, n_boot: int = 10_000, seed: int = 0, *,
            scale: float = 100.0) -> tuple[float, float, float]:
    """(mean, lo, hi) of one row's outcomes [seeds, queries]: the same interval as
    paired_diff_ci(a, 0). Used to ask whether the paper's single number is within our noise."""
    return _interval(_as_2d(a, "a"), level, n_boot, seed, scale)


def verdict(lo: float, hi: float, margin: float = 0.0) -> str:
    """"holds" when the interval lies above +margin, "contradicted" when below -margin, else
    "undecided". The interval is in the claimed direction: positive supports the claim."""
    if lo > margin:
        return HOLDS
    if hi < -margin:
        return CONTRADICTED
    return UNDECIDED


def seeds_needed(a, b, level: float = 0.95, max_seeds: int = 1000, *, margin: float = 0.0) -> int | None:
    """A rough count of seeds (on the same eval queries) that would settle the claim if the
    observed effect D were the truth: the smallest S' with
        t_{S'-1} * sqrt(s_u^2/Q + (s_v^2 + s_w^2/Q) / S') < |D - margin|,
    `margin` in the raw units of a and b (a claim "a exceeds b by more than m" is settled when the
    interval clears m, not 0),
    the variance components estimated as in paired_diff_ci (a normal approximation of the
    difference, with the t quantile the interval would use for S' seeds). None when it cannot be
    said: fewer than 2 seeds (no seed variance to go on), an effect exactly at the margin, or the queries'
    shared noise s_u^2/Q alone too large (more seeds would not settle it); max_seeds + 1 means
    "more than max_seeds"."""
    a, b = _as_2d(a, "a"), _as_2d(b, "b")
    d = a - b
    s_count, q_count = d.shape
    effect = abs(float(d.mean()) - margin)
    if s_count < 2 or effect == 0.0:
        return None
    ms_seed, ms_query, ms_res = _mean_squares(d)
    var_u = max(0.0, (ms_query - ms_res) / s_count)  # s_u^2
    per_seed = ms_seed / q_count  # s_v^2 + s_w^2/Q
    p = 0.5 + level / 2
    if NormalDist().inv_cdf(p) * math.sqrt(var_u / q_count) >= effect:
        return None

    def settles(n: int) -> bool:  # the half-width shrinks as n grows: a binary search finds the first
        return _t_quantile(p, float(n - 1)) * math.sqrt(var_u / q_count + per_seed / n) < effect

    if not settles(max_seeds):
        return max_seeds + 1
    lo, hi = 1, max_seeds  # settles(hi) holds; settles(lo) does not (one seed shows no seed noise)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if settles(mid) else (mid, hi)
    return hi


# --- the interval ------------------------------------------------------------------------------


def _mean_squares(d: np.ndarray) -> tuple[float, float, float]:
    """Two-way ANOVA (no replication) mean squares of d [S, Q]: seeds, queries, residual."""
    s_count, q_count = d.shape
    grand = d.mean()
    seed_means, query_means = d.mean(1), d.mean(0)
    ms_seed = q_count * float(((seed_means - grand) ** 2).sum()) / max(s_count - 1, 1)
    ms_query = s_count * float(((query_means - grand) ** 2).sum()) / (q_count - 1)
    if s_count < 2:
        return ms_seed, ms_query, 0.0
    resid = d - seed_means[:, None] - query_means[None, :] + grand
    ms_res = float((resid ** 2).sum()) / ((s_count - 1) * (q_count - 1))
    return ms_seed, ms_query, ms_res


def _interval(d: np.ndarray, level: float, n_boot: int, seed: int, scale: float) -> tuple[float, float, float]:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n_boot < 100:
        raise ValueError(f"n_boot must be at least 100, got {n_boot}")
    s_count, q_count = d.shape
    est = float(d.mean())
    boot = _query_bootstrap(d.mean(0), n_boot, seed)
    alpha = (1.0 - level) / 2
    p_lo, p_hi = np.quantile(boot, [alpha, 1.0 - alpha])
    var_q = float(boot.var(ddof=1))
    var_total, df = var_q, math.inf
    if s_count > 1:
        ms_seed, _, ms_res = _mean_squares(d)
        sq = s_count * q_count
        # seed means carry s_v^2 + s_w^2/Q (S - 1 degrees of freedom); the queries add only their
        # shared part s_u^2/Q: the bootstrap's variance less the s_w^2/(SQ) the seed means hold
        part_seed = ms_seed / sq
        part_query = max(0.0, var_q - ms_res / sq)
        var_total = part_query + part_seed
        if var_total > 0:  # Satterthwaite's degrees of freedom of the sum
            df = max(1.0, var_total ** 2 / (part_query ** 2 / (q_count - 1) + part_seed ** 2 / (s_count - 1)))
    z = NormalDist().inv_cdf(1.0 - alpha)
    t = _t_quantile(1.0 - alpha, df)
    if var_q > 0:  # the bootstrap's (possibly asymmetric) interval, widened to the total variance
        factor = t * math.sqrt(var_total) / (z * math.sqrt(var_q))
        lo, hi = est - (est - p_lo) * factor, est + (p_hi - est) * factor
    else:  # every query differs by the same amount: only seed noise is left (or none)
        half = t * math.sqrt(var_total) if s_count > 1 else 0.0
        lo, hi = est - half, est + half
    return est * scale, float(lo) * scale, float(hi) * scale


def _query_bootstrap(dbar: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """n_boot means of dbar [Q] over queries resampled with replacement."""
    q_count = dbar.shape[0]
    rng = np.random.default_rng(seed)
    values, inverse = np.unique(dbar, return_inverse=True)
    if len(values) <= _FEW_VALUES:
        # Multinomial draws as a chain of binomials (exact, and far faster than Generator.multinomial).
        freq = np.bincount(inverse.ravel(), minlength=len(values)).astype(np.int64)
        remaining = np.full(n_boot, q_count, dtype=np.int64)
        total, left = np.zeros(n_boot), q_count
        for value, f in zip(values[:-1], freq[:-1]):
            picked = rng.binomial(remaining, f / left) if f < left else remaining
            total += picked * value
            remaining = remaining - picked
            left -= f
        return (total + remaining * values[-1]) / q_count
    if n_boot * q_count <= _COUNTS_CACHE_MAX:
        return _resample_counts(q_count, n_boot, seed) @ dbar.astype(np.float32) / np.float32(q_count)
    out = np.empty(n_boot)
    for start in range(0, n_boot, 1000):  # in blocks: bounded memory at any size
        idx = rng.integers(0, q_count, size=(min(1000, n_boot - start), q_count))
        out[start:start + len(idx)] = dbar[idx].mean(1)
    return out


@lru_cache(maxsize=2)
def _resample_counts(q_count: int, n_boot: int, seed: int) -> np.ndarray:
    """[n_boot, Q] float32: how often each query is drawn in each resample. Every comparison of a
    table is on the same eval queries, so the draws are made once and reused (a matrix product)."""
    rng = np.random.default_rng(seed)
    counts = np.empty((n_boot, q_count), dtype=np.float32)
    for start in range(0, n_boot, 1000):
        rows = min(1000, n_boot - start)
        idx = rng.integers(0, q_count, size=(rows, q_count)) + q_count * np.arange(rows)[:, None]
        counts[start:start + rows] = np.bincount(idx.ravel(), minlength=rows * q_count).reshape(rows, q_count)
    counts.setflags(write=False)
    return counts


# --- Student's t quantile (no scipy) -------------------------------------------------------------


@lru_cache(maxsize=4096)
def _t_quantile(p: float, df: float) -> float:
    """The p-quantile (p > 0.5) of Student's t with df degrees of freedom: Newton's method on its
    CDF, started at the normal quantile, each step kept inside a shrinking bracket."""
    z = NormalDist().inv_cdf(p)
    if df >= 200:  # Cornish-Fisher expansion in 1/df: within 1e-6 of the exact quantile here
        return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)
    lo, hi = 0.0, 1.0
    while _t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2
    x = min(max(z, lo), hi)
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    for _ in range(100):
        f = _t_cdf(x, df) - p
        if abs(f) < 1e-13:
            break
        lo, hi = (x, hi) if f < 0 else (lo, x)
        density = math.exp(log_norm - (df + 1) / 2 * math.log1p(x * x / df))
        step = x - f / density
        x = step if lo < step < hi else (lo + hi) / 2
    return x


def _t_cdf(x: float, df: float) -> float:
    """CDF of Student's t at x >= 0: 1 - I_{df/(df+x^2)}(df/2, 1/2) / 2."""
    return 1.0 - 0.5 * _betainc(df / 2, 0.5, df / (df + x * x))


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b), by its continued fraction (Lentz's method)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    if x > (a + 1) / (a + b + 2):  # the fraction converges fast only below this point
        return 1.0 - _betainc(b, a, 1.0 - x)
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    tiny = 1e-300
    f, c, dd = 1.0, 1.0, 0.0
    for i in range(400):
        m = i // 2
        if i == 0:
            num = 1.0
        elif i % 2 == 0:
            num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        else:
            num = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        dd = 1.0 + num * dd
        dd = 1.0 / (dd if abs(dd) > tiny else tiny)
        c = 1.0 + num / c
        c = c if abs(c) > tiny else tiny
        f *= c * dd
        if abs(1.0 - c * dd) < 1e-14:
            break
    return front * (f - 1.0) / a
