"""The one decision rule every paper's claims use: decided only beyond noise, else undecided.

A claim compares measured numbers against each other or against a threshold. Every comparison
here returns ``True`` (holds), ``False`` (fails) or ``None`` (undecided: within the noise band,
so another run, seed or machine could land on either side). :meth:`check.Outcome.from_cases`
turns a dict of those into a graded outcome.

Rules (the project's single decision rule; tolerances that a claim alone uses live in
``paper_repro/<slug>.py`` beside the claim, never in an experiment's Config):

* **A better than B** (:func:`better`): the paired differences ``d_i = a_i − b_i`` over seeds
  (or examples, or data sets) give a mean ``d̄`` and its standard error ``SE``. It holds when
  ``d̄ > max(Z·SE, margin)`` and fails when ``−d̄ > max(Z·SE, margin)``; otherwise undecided.
  ``margin`` is the claim's practical margin, fixed in the claim.
* **Non-inferiority** ``A ≥ B − δ`` (:func:`not_worse`): holds when ``d̄ − Z·SE ≥ −δ``, fails
  when ``d̄ + Z·SE < −δ``; otherwise undecided.
* **Threshold** (:func:`below` / :func:`above`): a value with its spread against a threshold,
  with an undecided band ``max(Z·SE, band)`` on each side (a slope of 0.101 against 0.1 is
  noise, not a verdict).
* **Timing** (:func:`timing_ratio`): wall-clock ratios are measured side by side in one run,
  repeated; the ratio's spread comes from the repeats (log scale) and a relative band
  :data:`TIMING_REL_BAND` that absorbs machine-to-machine and load noise.
* **Chaotic computations** (:func:`agree`): an outcome decided on each of several seeds or
  perturbations (e.g. float32 minibatch training, large-step iteration counts) holds only when
  every replica holds and fails only when every replica fails; a disagreement is undecided. A
  machine's rounding acts as one more replica, so it can turn a decided case undecided but
  cannot flip it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

Z = 2.0  # standard errors: the noise band of every comparison (≈ 95 % two-sided)
TIMING_REL_BAND = 0.10  # a timing ratio within 10 % of its threshold is undecided
Decision = bool | None


def mean_se(values: Iterable[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (sample std / √n; 0 for one value)."""
    x = np.asarray(list(values), dtype=float)
    if x.size == 0:
        raise ValueError("`mean_se(values)` needs at least one value, got none")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"`mean_se(values)` must be finite, got {x.tolist()}")
    se = float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else 0.0
    return float(x.mean()), se


def _check_nonneg(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and value >= 0 and math.isfinite(value)):
        raise ValueError(f"`{name}` must be a finite number ≥ 0, got {value!r}")


def better(a: Sequence[float], b: Sequence[float], *, margin: float, z: float = Z,
           higher: bool = True) -> Decision:
    """Is A better than B? Paired over seeds/examples: ``d̄`` beyond ``max(z·SE, margin)``.

    Args:
      a, b: paired measurements (same seeds, same order), e.g. test accuracy per seed.
      margin: the claim's practical margin (in the measurement's units), ≥ 0.
      z: standard errors of the noise band.
      higher: ``True`` when larger is better (accuracy), ``False`` when smaller is (error).
    """
    _check_nonneg("better(margin=...)", margin)
    if len(a) != len(b):
        raise ValueError(f"`better(a, b)` needs paired values, got {len(a)} and {len(b)}")
    d = np.asarray(a, float) - np.asarray(b, float)
    mean, se = mean_se(d if higher else -d)
    need = max(z * se, margin)
    if mean > need:
        return True
    if -mean > need:
        return False
    return None


def not_worse(a: Sequence[float], b: Sequence[float], *, delta: float, z: float = Z,
              higher: bool = True) -> Decision:
    """Non-inferiority ``A ≥ B − δ`` on paired values (``higher=False``: ``A ≤ B + δ``)."""
    _check_nonneg("not_worse(delta=...)", delta)
    if len(a) != len(b):
        raise ValueError(f"`not_worse(a, b)` needs paired values, got {len(a)} and {len(b)}")
    d = np.asarray(a, float) - np.asarray(b, float)
    mean, se = mean_se(d if higher else -d)
    if mean - z * se >= -delta:
        return True
    if mean + z * se < -delta:
        return False
    return None


def below(value: float, threshold: float, *, se: float = 0.0, band: float = 0.0,
          z: float = Z) -> Decision:
    """``value ≤ threshold`` decided outside ``threshold ± max(z·se, band)``."""
    _check_nonneg("below(se=...)", se)
    _check_nonneg("below(band=...)", band)
    width = max(z * se, band)
    if value <= threshold - width:
        return True
    if value > threshold + width:
        return False
    return None


def above(value: float, threshold: float, *, se: float = 0.0, band: float = 0.0,
          z: float = Z) -> Decision:
    """``value ≥ threshold`` decided outside ``threshold ± max(z·se, band)``."""
    return below(-value, -threshold, se=se, band=band, z=z)


def timing_ratio(numer: Sequence[float], denom: Sequence[float]) -> tuple[float, float]:
    """The ratio of two timings measured side by side, repeated: ``(ratio, se of log ratio)``.

    ``numer[i]`` and ``denom[i]`` are the i-th interleaved repeats; the ratio is the geometric
    mean of the per-repeat ratios and its spread the SE of their logs (0 for one repeat).
    """
    if len(numer) != len(denom) or not len(numer):
        raise ValueError(f"`timing_ratio` needs paired repeats, got {len(numer)} and "
                         f"{len(denom)}")
    logs = np.log(np.asarray(numer, float)) - np.log(np.asarray(denom, float))
    mean, se = mean_se(logs)
    return float(math.exp(mean)), se


def ratio_below(ratio: float, threshold: float, *, log_se: float = 0.0,
                rel_band: float = TIMING_REL_BAND, z: float = Z) -> Decision:
    """A timing ratio ``≤ threshold``, undecided within a relative band (log scale)."""
    if not (ratio > 0 and threshold > 0):
        raise ValueError(f"`ratio_below` needs positive ratio and threshold, got {ratio!r}, "
                         f"{threshold!r}")
    return below(math.log(ratio), math.log(threshold), se=log_se,
                 band=math.log1p(rel_band), z=z)


def ratio_above(ratio: float, threshold: float, *, log_se: float = 0.0,
                rel_band: float = TIMING_REL_BAND, z: float = Z) -> Decision:
    """A timing ratio ``≥ threshold``, undecided within a relative band (log scale)."""
    if not (ratio > 0 and threshold > 0):
        raise ValueError(f"`ratio_above` needs positive ratio and threshold, got {ratio!r}, "
                         f"{threshold!r}")
    return above(math.log(ratio), math.log(threshold), se=log_se,
                 band=math.log1p(rel_band), z=z)


def slope_se(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Least-squares slope of ``y`` on ``x`` and its standard error (0 with two points)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size != y.size or x.size < 2:
        raise ValueError(f"`slope_se` needs ≥ 2 paired points, got {x.size} and {y.size}")
    xc = x - x.mean()
    sxx = float(xc @ xc)
    slope = float(xc @ (y - y.mean()) / sxx)
    if x.size < 3:
        return slope, 0.0
    resid = y - y.mean() - slope * xc
    return slope, float(math.sqrt(resid @ resid / (x.size - 2) / sxx))


def agree(decisions: Iterable[Decision]) -> Decision:
    """One decision from replicas (seeds, perturbations): unanimous, else undecided."""
    ds = list(decisions)
    if not ds:
        raise ValueError("`agree(decisions)` needs at least one decision, got none")
    if all(d is True for d in ds):
        return True
    if all(d is False for d in ds):
        return False
    return None


def never_flips(before: dict[str, Decision], after: dict[str, Decision]) -> list[str]:
    """Cases decided one way in ``before`` and the other way in ``after`` (should be empty)."""
    return [k for k in before if before[k] is not None and after.get(k) is not None
            and before[k] != after[k]]
