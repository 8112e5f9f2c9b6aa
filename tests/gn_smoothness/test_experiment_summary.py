"""Summary helpers of experiments/gn_smoothness.py on hand-made trajectories (no JAX runs)."""

import numpy as np

from experiments import gn_smoothness as E
from experiments._keys import key


def _traj(f, trials, time=None, converged=None):
    n = len(f)
    t = {"f": np.asarray(f, float), "radius": np.ones(n), "grad_calls": np.arange(n),
         "factorizations": np.arange(n), "trials": np.asarray(trials),
         "converged": np.zeros(n, bool) if converged is None else np.asarray(converged)}
    if time is not None:
        t["time"] = np.asarray(time, float)
    return t


def test_time_per_iteration_counts_only_iterations_that_did_work():
    """Issue 18: p = 4 exact spent 41 trials per iteration after convergence and logistic runs
    no-op after their stopping rule; the time per iteration divides the time to tol by the
    iterations to tol (before: the whole run's time by all iterations)."""
    f = [1.0, 1e-3, 1e-6, 1e-12, 1e-12, 1e-12]
    trials = np.cumsum([0, 1, 1, 1, 41, 41])
    time = [0.0, 0.1, 0.2, 0.3, 2.0, 4.0]  # 2 post-convergence iterations of 41 trials
    s = {}
    E._summarize("m", _traj(f, trials, time), 0.0, 1e-10, s)
    assert s[key("m", "iters_to_tol")] == 3 and s[key("m", "work_iters")] == 3
    assert np.isclose(s[key("m", "time_per_iter_s")], 0.1)  # old: 4.0 / 5 = 0.8
    # never below tol, stopped by its own rule at k = 2 (later updates are no-ops)
    s = {}
    E._summarize("m", _traj([1.0, 0.5, 0.4, 0.4, 0.4], np.cumsum([0, 1, 1, 0, 0]),
                            [0.0, 1.0, 2.0, 2.01, 2.02], [0, 0, 1, 1, 1]), 0.0, 1e-10, s)
    assert s[key("m", "work_iters")] == 2 and np.isclose(s[key("m", "time_per_iter_s")], 1.0)


def test_lemma_scope_separates_forced_steps():
    """A step after ALG1_MAX_TRIALS rejections is forced: its increase is not an accepted
    step's, and it counts as forced before tol only when tol was not yet reached."""
    f = [1.0, 1e-11, 1e-56, 1.0000001e-56]
    trials = np.cumsum([0, 1, 1, E.ALG1_MAX_TRIALS])
    s = {}
    E._summarize("m", _traj(f, trials), 0.0, 1e-10, s)
    assert s[key("m", "max_increase")] > 0 >= s[key("m", "max_increase_searched")]
    assert s[key("m", "forced_steps")] == 1 and s[key("m", "forced_before_tol")] == 0
    trials = np.cumsum([0, E.ALG1_MAX_TRIALS, 1, 1])
    s = {}
    E._summarize("m", _traj(f, trials), 0.0, 1e-10, s)
    assert s[key("m", "forced_before_tol")] == 1
