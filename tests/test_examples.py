"""The examples run: ``examples/your_own_data.py --tiny`` end to end, its numbers checked
against direct library calls (so the script cannot print numbers the library would not)."""

import importlib.util
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from jaxrank.optim import perceptron

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load_example(name):
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_your_own_data_tiny(tmp_path, capsys):
    ex = load_example("your_own_data")
    out = ex.main(["--tiny", "--out", str(tmp_path)])
    assert out["figure"] == tmp_path / "your_own_data.png" and out["figure"].stat().st_size > 0
    n, d, margin, num_seeds, step_sizes, max_iters, mlp_steps = ex.SIZES["tiny"]
    assert out["counts"].shape == (len(step_sizes), num_seeds)
    assert np.all(out["counts"] >= 0) and np.all(out["adam_counts"] >= 0)  # all separated
    # one grid point recomputed alone, outside the sweep
    features, labels = ex.load(np.arange(num_seeds), n, d, margin)
    alone = perceptron.iterations_to_separate(perceptron.lr_gd(step_sizes[0]),
                                              jnp.asarray(features[1]), jnp.asarray(labels[1]),
                                              max_iters=max_iters)
    assert int(alone) == out["counts"][0, 1]
    assert out["mlp_losses"].shape == (mlp_steps,)
    assert out["mlp_losses"][-1] < out["mlp_losses"][0] and out["mlp_accuracy"] > 0.8
    assert "figure ->" in capsys.readouterr().out
