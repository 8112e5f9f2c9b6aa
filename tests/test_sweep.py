"""Tests for jaxrank.sweep: grid layout, values against nested loops, errors, and multi-device.

The multi-device test runs a small script in a subprocess with four virtual CPU devices
(``XLA_FLAGS=--xla_force_host_platform_device_count=4``): the device count is fixed when JAX
starts, so it cannot be changed inside this process. The multi-process test joins two such
processes (two CPU devices each) with ``jax.distributed.initialize`` on 127.0.0.1 (gloo).
"""

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrank.data import planted_margin
from jaxrank.optim import perceptron, run
from jaxrank.sweep import grid_points, sweep
from tests._tolerances import IDENTITY

REPO_ROOT = Path(__file__).resolve().parents[1]

# --------------------------------------------------------------------------- layout and values


def test_shape_follows_axis_order():
    fn = lambda a, b: a * 10.0 + b
    out = sweep(fn, {"a": [1.0, 2.0], "b": [0.0, 1.0, 2.0]})
    assert out.shape == (2, 3)
    swapped = sweep(fn, {"b": [0.0, 1.0, 2.0], "a": [1.0, 2.0]})
    assert swapped.shape == (3, 2)
    np.testing.assert_array_equal(swapped, out.T)


def test_values_match_nested_loop():
    fn = lambda x, y, z: jnp.sin(x) * y + z**2
    axes = {"x": [0.1, 0.5, 2.0], "y": [-1.0, 3.0], "z": [0.0, 1.5, 2.5, 4.0]}
    out = sweep(fn, axes)
    want = np.array(
        [[[np.sin(x) * y + z**2 for z in axes["z"]] for y in axes["y"]] for x in axes["x"]]
    )
    assert out.shape == (3, 2, 4)
    np.testing.assert_allclose(out, want, **IDENTITY.kw())


def test_output_dims_follow_grid_dims():
    out = sweep(lambda a, b: jnp.arange(4.0) * a + b, {"a": [1.0, 2.0], "b": [0.0, 1.0, 2.0]})
    assert out.shape == (2, 3, 4)
    np.testing.assert_allclose(out[1, 2], np.arange(4.0) * 2.0 + 2.0, **IDENTITY.kw())


def test_shared_positional_args_are_passed_through():
    data = np.random.default_rng(0).standard_normal((6, 3))
    weights = np.array([1.0, -2.0, 0.5])

    def fn(data, weights, *, scale, shift):
        return jnp.tanh(scale * data @ weights) + shift

    axes = {"scale": [0.5, 1.0, 4.0], "shift": [0.0, 1.0]}
    out = sweep(fn, axes, data, weights)
    assert out.shape == (3, 2, 6)
    for i, s in enumerate(axes["scale"]):
        for j, c in enumerate(axes["shift"]):
            np.testing.assert_allclose(out[i, j], np.tanh(s * data @ weights) + c, **IDENTITY.kw())


def test_pytree_outputs():
    def fn(a, b):
        return {"sum": a + b, "pair": (a * b, jnp.stack([a, b]))}

    axes = {"a": [1.0, 2.0, 3.0], "b": [10.0, 20.0]}
    out = sweep(fn, axes)
    assert set(out) == {"sum", "pair"}
    assert out["sum"].shape == (3, 2) and out["pair"][0].shape == (3, 2)
    assert out["pair"][1].shape == (3, 2, 2)
    for i, a in enumerate(axes["a"]):
        for j, b in enumerate(axes["b"]):
            assert out["sum"][i, j] == a + b and out["pair"][0][i, j] == a * b
            np.testing.assert_array_equal(out["pair"][1][i, j], [a, b])
    assert all(isinstance(leaf, np.ndarray) for leaf in jax.tree.leaves(out))


def test_rebuilt_closures_share_one_compilation():
    """sweep caches by the function's value (code + captured values), like the solver
    factories: a closure rebuilt per call compiles once; another captured value compiles anew."""
    from jaxrank import sweep as sweep_module

    def make(offset, config):
        return lambda x, a: a * x + offset + config.shift

    Cfg = __import__("dataclasses").make_dataclass("Cfg", [("shift", float)], frozen=True)
    x = jnp.arange(3.0)
    programs = lambda: sweep_module._compiled_static.cache_info().misses  # noqa: E731
    before = programs()
    first = sweep(make(2.0, Cfg(1.0)), {"a": [1.0, 2.0]}, x)
    again = sweep(make(2.0, Cfg(1.0)), {"a": [1.0, 2.0]}, x)
    assert programs() == before + 1, "an equal rebuilt closure must not recompile"
    np.testing.assert_array_equal(first, again)
    other = sweep(make(2.0, Cfg(5.0)), {"a": [1.0, 2.0]}, x)
    assert programs() == before + 2, "a different captured value must compile its own program"
    np.testing.assert_allclose(other - first, 4.0, **IDENTITY.kw())


def test_uneven_grid_and_integer_axis():
    out = sweep(lambda seed: jax.random.uniform(jax.random.key(seed)), {"seed": np.arange(5)})
    assert out.shape == (5,)
    want = [jax.random.uniform(jax.random.key(s)) for s in range(5)]
    np.testing.assert_allclose(out, want, **IDENTITY.kw())


def test_grid_points_slowest_axis_first():
    points = grid_points({"a": [1, 2], "b": [0, 1, 2]})
    np.testing.assert_array_equal(points["a"], [1, 1, 1, 2, 2, 2])
    np.testing.assert_array_equal(points["b"], [0, 1, 2, 0, 1, 2])


# --------------------------------------------------------------------------- errors


def test_rejects_empty_axes():
    with pytest.raises(ValueError, match=r"sweep\(axes=\.\.\.\)"):
        sweep(lambda: 0.0, {})


@pytest.mark.parametrize("values", [[], np.zeros((2, 2)), 3.0], ids=["empty", "2-D", "scalar"])
def test_rejects_bad_axis(values):
    with pytest.raises(ValueError, match=r"sweep\(axes\['a'\]=\.\.\.\)"):
        sweep(lambda a, b: a + b, {"b": [1.0, 2.0], "a": values})


def test_rejects_non_callable():
    with pytest.raises(TypeError, match=r"sweep\(fn=\.\.\.\)"):
        sweep([1.0, 2.0], {"a": [1.0]})


def test_rejects_empty_devices():
    with pytest.raises(ValueError, match=r"sweep\(devices=\.\.\.\)"):
        sweep(lambda a: a, {"a": [1.0]}, devices=[])


# --------------------------------------------------------------------------- multi-device


def _record_loss(theta, state, *_):
    return state.loss


def lr_gd_grid(devices=None):
    """LR+GD over 7 step sizes × 3 seeds of planted data: 21 points, padded to 24 on 4 devices.

    Imported by the subprocess of `test_multi_device_matches_single_device`, so both sides run
    the very same computation.
    """
    pairs = [planted_margin(seed, 30, 4, 0.05) for seed in range(3)]
    features = np.stack([a for a, _ in pairs])
    labels = np.stack([y for _, y in pairs])

    def fn(features, labels, *, step_size, seed):
        a, y = features[seed], labels[seed]
        theta, state, losses = run(
            perceptron.lr_gd(step_size), jnp.zeros(a.shape[1]), 25, a, y, record=_record_loss
        )
        return {"theta": theta, "losses": losses, "accuracy": perceptron.accuracy(theta, a, y)}

    axes = {"step_size": np.logspace(-1, 5, 7), "seed": np.arange(3)}
    return sweep(fn, axes, features, labels, devices=devices)


_SCRIPT = textwrap.dedent(
    """
    import sys

    import jax

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_numpy_rank_promotion", "raise")
    import numpy as np

    from tests.test_sweep import lr_gd_grid

    assert jax.device_count() == 4, jax.devices()
    out = lr_gd_grid()
    np.savez(sys.argv[1], **{k: np.asarray(v) for k, v in out.items()})
    """
)


def run_on_four_devices(script, *argv):
    """Run ``python -c script *argv`` from the repository root with four CPU devices."""
    env = dict(os.environ)
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-c", script, *map(str, argv)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout


def test_multi_device_matches_single_device(tmp_path):
    path = tmp_path / "grid.npz"
    run_on_four_devices(_SCRIPT, path)
    sharded = dict(np.load(path))
    local = lr_gd_grid(devices=jax.devices()[:1])
    assert set(sharded) == set(local)
    assert local["theta"].shape == (7, 3, 4) and local["losses"].shape == (7, 3, 25)
    for key in local:
        assert sharded[key].shape == local[key].shape
        # Same per-point arithmetic on every device: bitwise equality is expected.
        np.testing.assert_allclose(sharded[key], local[key], **IDENTITY.kw())
    # The sweep is not degenerate: large steps separate the data within 25 steps.
    assert np.all(local["accuracy"][-1] == 1.0)


_DEVICE_SCRIPT = textwrap.dedent(
    """
    import json
    import sys

    import jax
    import numpy as np

    from jaxrank.sweep import sweep

    module = sys.modules["jaxrank.sweep"]  # `jaxrank.sweep` the attribute is the function
    seen = []

    class NumpySpy:  # records where the arrays that `sweep` converts to NumPy live
        def __getattr__(self, name):
            return getattr(np, name)

        @staticmethod
        def asarray(x, *args, **kwargs):
            if isinstance(x, jax.Array):
                seen.append(sorted(d.id for d in x.devices()))
            return np.asarray(x, *args, **kwargs)

    module.np = NumpySpy()
    assert jax.device_count() == 4
    sweep(lambda a: 2.0 * a, {"a": [1.0, 2.0, 3.0]}, devices=[jax.devices()[2]])
    print(json.dumps(seen))
    """
)


def test_single_device_argument_is_honoured():
    seen = json.loads(run_on_four_devices(_DEVICE_SCRIPT).strip().splitlines()[-1])
    if not seen:
        pytest.fail("the spy saw no jax.Array converted to NumPy; update this test's observable")
    assert seen == [[2]], f"asked for device 2, computed on {seen}"


def test_module_is_reachable_as_attribute():
    import jaxrank

    assert jaxrank.sweep.sweep is sweep


# --------------------------------------------------------------------------- multi-process

_PROCESS_SCRIPT = textwrap.dedent(
    """
    import sys

    import jax

    process_id, port, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_numpy_rank_promotion", "raise")
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=2,
                               process_id=process_id, initialization_timeout=60)
    import numpy as np

    from tests.test_sweep import lr_gd_grid

    # two processes × two CPU devices: half of the mesh belongs to the other process
    assert jax.process_count() == 2 and jax.device_count() == 4, jax.devices()
    assert jax.local_device_count() == 2
    result = lr_gd_grid()
    np.savez(out, **{k: np.asarray(v) for k, v in result.items()})
    jax.distributed.shutdown()
    """
)


def free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # two fresh JAX processes joined over loopback: ~10 s on 2 busy cores
def test_two_processes_match_single_process(tmp_path):
    env = dict(os.environ)
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    port = free_loopback_port()
    outs = [tmp_path / f"process{i}.npz" for i in range(2)]
    procs = [
        subprocess.Popen([sys.executable, "-c", _PROCESS_SCRIPT, str(i), str(port), str(out)],
                         cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
        for i, out in enumerate(outs)
    ]
    logs = []
    try:
        for p in procs:
            logs.append(p.communicate(timeout=180)[0])
    finally:
        for p in procs:  # never leave a process waiting on its peer
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, log in zip(procs, logs, strict=True):
        assert p.returncode == 0, log[-4000:]
    local = lr_gd_grid(devices=jax.devices()[:1])
    for out in outs:  # every process received the whole grid
        got = dict(np.load(out))
        assert set(got) == set(local)
        for key in local:
            assert got[key].shape == local[key].shape
            np.testing.assert_allclose(got[key], local[key], **IDENTITY.kw())
    assert np.all(local["accuracy"][-1] == 1.0)
