"""Online-learning environments: the SEA model of Sachs et al. 2022 / Chen et al. 2023."""

from jaxrank.online import sea
from jaxrank.online.sea import (
    ENVIRONMENTS,
    SCHEDULES,
    Environment,
    SEAParams,
    absolute,
    cumulative_sea,
    drift,
    least_squares,
    linear,
    logistic,
    monte_carlo_sea,
    noise_scale,
    nonconvex_quadratic,
    play,
    prefix_best_fixed,
    quadratic,
    regret_curve,
    round_key,
    sample_rounds,
    sea_params,
)

__all__ = [
    "sea", "ENVIRONMENTS", "SCHEDULES", "Environment", "SEAParams", "absolute", "cumulative_sea",
    "drift", "least_squares", "linear", "logistic", "monte_carlo_sea", "noise_scale",
    "nonconvex_quadratic", "play", "prefix_best_fixed",
    "quadratic", "regret_curve", "round_key", "sample_rounds", "sea_params",
]
