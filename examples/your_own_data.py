"""Your own data through jaxrank: a step-size × seed sweep, an optax baseline, a flax MLP, a plot.

Replace :func:`load` with your own ``(features (n, d), labels (n,) in {-1, +1})``; here it draws
linearly separable data with a planted margin (``jaxrank.data.planted_margin``), one data set
per seed. The script then

1. counts the iterations LR+GD needs to separate the data, for every step size γ and seed, in
   one compiled call (``jaxrank.sweep.sweep`` over ``perceptron.iterations_to_separate``);
2. runs Adam on the same logistic loss as a baseline (``jaxrank.optim.from_optax``), stopped by
   the same predicate (``jaxrank.optim.run_until``);
3. trains the flax MLP of ``jaxrank.models`` with Adam (``run``, recording the loss);
4. saves one figure, ``<out>/your_own_data.png``, and prints a summary.

Run: ``python examples/your_own_data.py --out /tmp/jaxrank-example`` (about a minute on a laptop
CPU); ``--tiny`` is the seconds-long version the test suite executes.

Precision: large-step runs need float64, so this *script* turns it on before any array is made
(the library never flips global flags). In float32 the counts of large steps change: the
logistic loss saturates near 1e-8 and the iterates round differently.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)  # before any array is created

import jax.numpy as jnp  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from jaxrank.data import planted_margin  # noqa: E402
from jaxrank.models import MLP  # noqa: E402
from jaxrank.optim import from_optax, perceptron, run, run_until  # noqa: E402
from jaxrank.sweep import sweep  # noqa: E402

SIZES = {  # name -> (n, d, margin, seeds, step sizes, max iterations, MLP steps)
    "full": (2000, 50, 0.02, 8, np.logspace(-2, 3, 11), 20_000, 1000),
    "tiny": (60, 5, 0.1, 2, np.array([0.1, 10.0, 1000.0]), 2000, 30),
}


def load(seeds, n, d, margin):
    """Your data here. Returns stacked ``(features (S, n, d), labels (S, n))``, one set per seed."""
    pairs = [planted_margin(int(s), n, d, margin) for s in seeds]
    return np.stack([a for a, _ in pairs]), np.stack([y for _, y in pairs])


def separated(theta, state, features, labels):
    """Stop when every margin y_i a_iᵀθ is positive (module level: one compilation)."""
    return jnp.all(perceptron.margins(theta, features, labels) > 0)


def lr_gd_iterations(features, labels, *, learning_rate, seed, max_iters):
    """One grid point: LR+GD with step ``learning_rate`` on the data set of ``seed``."""
    a, y = features[seed], labels[seed]
    return perceptron.iterations_to_separate(perceptron.lr_gd(learning_rate), a, y,
                                             max_iters=max_iters)


def mlp_loss(params, x, y, model):
    return jnp.mean(jax.nn.softplus(-y * model.apply(params, x)))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the figure")
    parser.add_argument("--tiny", action="store_true", help="seconds-long run (tests)")
    args = parser.parse_args(argv)
    n, d, margin, num_seeds, step_sizes, max_iters, mlp_steps = SIZES[
        "tiny" if args.tiny else "full"]
    seeds = np.arange(num_seeds)
    features, labels = load(seeds, n, d, margin)

    # 1. γ × seed sweep: one compiled, vmapped call (sharded over devices if there are several)
    counts = sweep(lambda a, y, *, learning_rate, seed: lr_gd_iterations(
        a, y, learning_rate=learning_rate, seed=seed, max_iters=max_iters),
        {"learning_rate": step_sizes, "seed": seeds}, features, labels)

    # 2. optax baseline on the same loss, same stopping rule, per seed (vmapped)
    adam = from_optax(optax.adam(0.1), perceptron.logistic_loss)
    adam_counts = jax.vmap(lambda a, y: run_until(adam, jnp.zeros(d), separated, a, y,
                                                  max_steps=max_iters)[2])(features, labels)

    # 3. flax MLP trained with Adam through `run`, on seed 0's data, recording the loss
    model = MLP(hidden=(16,), outputs=1, squeeze=True)
    x0, y0 = jnp.asarray(features[0]), jnp.asarray(labels[0])
    params = model.init(jax.random.key(0), x0[:1])
    mlp_solver = from_optax(optax.adam(1e-2), lambda p, x, y: mlp_loss(p, x, y, model))
    params, _, mlp_losses = run(mlp_solver, params, mlp_steps, x0, y0,
                                record=lambda p, s, x, y: mlp_loss(p, x, y, model))
    mlp_accuracy = float(jnp.mean(y0 * model.apply(params, x0) > 0))

    # 4. one figure
    args.out.mkdir(parents=True, exist_ok=True)
    solved = np.where(counts >= 0, counts, np.nan).astype(float)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.plot(step_sizes, np.nanmedian(solved, axis=1), "o-", label="LR+GD, median over seeds")
    left.fill_between(step_sizes, np.nanmin(solved, axis=1), np.nanmax(solved, axis=1),
                      alpha=0.25, label="LR+GD, min–max")
    adam_ok = np.asarray(adam_counts)[np.asarray(adam_counts) >= 0]
    if adam_ok.size:
        left.axhline(np.median(adam_ok), color="k", ls="--", label="Adam (lr 0.1), median")
    left.set(xscale="log", yscale="log", xlabel="step size γ",
             ylabel="iterations to separate", title=f"{num_seeds} seeds, n={n}, d={d}")
    left.legend(fontsize=8)
    right.plot(np.asarray(mlp_losses), label="MLP(16) + Adam, training loss")
    right.set(yscale="log", xlabel="step", ylabel="logistic loss",
              title=f"flax MLP, training accuracy {mlp_accuracy:.2f}")
    right.legend(fontsize=8)
    fig.tight_layout()
    path = args.out / "your_own_data.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)

    print("iterations to separate (-1: not within max_iters), rows γ, columns seeds:")
    for g, row in zip(step_sizes, np.asarray(counts), strict=True):
        print(f"  γ = {g:9.3g}: {row.tolist()}")
    print(f"Adam: {np.asarray(adam_counts).tolist()}; MLP training accuracy {mlp_accuracy:.3f}")
    print(f"figure -> {path}")
    return {"counts": np.asarray(counts), "adam_counts": np.asarray(adam_counts),
            "mlp_losses": np.asarray(mlp_losses), "mlp_accuracy": mlp_accuracy,
            "step_sizes": step_sizes, "figure": path}


if __name__ == "__main__":
    main(sys.argv[1:])
