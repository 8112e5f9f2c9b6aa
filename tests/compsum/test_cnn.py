"""The small CNN (jaxrank.models.CNN): both convolution forms against flax's Conv, shapes, init
per key, vmap over seeds, bad inputs, and that it learns a tiny separable image problem."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxrank.models import CNN
from jaxrank.optim import from_optax, run
from tests._tolerances import IDENTITY, IDENTITY_F32, assert_trees_close

KEY = jax.random.key(0)


def _images(shape, seed=0, dtype=jnp.float64):
    return jnp.asarray(np.random.default_rng(seed).uniform(0, 1, shape), dtype)


def _reference(model, params, x):
    """The same network from flax's own nn.Conv / nn.Dense, reading the CNN's parameters."""
    p = params["params"]
    z = x.reshape((-1, *model.image_shape)) if model.image_shape is not None else x
    for i, f in enumerate(model.features):
        conv = nn.Conv(f, (model.kernel, model.kernel), model.strides, padding="SAME")
        z = model.activation(conv.apply({"params": p[f"Conv_{i}"]}, z))
    z = z.reshape(z.shape[0], -1)
    names = [f"Dense_{i}" for i in range(len(model.hidden) + 1)]
    for i, name in enumerate(names):
        z = nn.Dense(p[name]["kernel"].shape[1]).apply({"params": p[name]}, z)
        if i < len(names) - 1:
            z = model.activation(z)
    return z


# one case in `make test`; the other three (compile-bound, 3-5 s each) under `make test-all`
@pytest.mark.parametrize("image,kernel,strides", [
    ((7, 5, 2), 3, 2),
    pytest.param((8, 8, 1), 3, 2, marks=pytest.mark.slow),
    pytest.param((6, 6, 3), 5, 1, marks=pytest.mark.slow),
    pytest.param((9, 9, 1), 2, 3, marks=pytest.mark.slow)])
def test_both_forms_match_flax_conv_and_input_gradients(image, kernel, strides):
    x = _images((4, int(np.prod(image))))
    for implementation in ("patches", "conv"):
        model = CNN(features=(3, 4), outputs=5, kernel=kernel, strides=strides, hidden=(6,),
                    image_shape=image, implementation=implementation)
        params = model.init(KEY, x)

        @jax.jit
        def both(z, model=model, params=params):
            f = jax.value_and_grad(lambda u: jnp.sum(jnp.sin(model.apply(params, u))))
            r = jax.value_and_grad(lambda u: jnp.sum(jnp.sin(_reference(model, params, u))))
            return model.apply(params, z), _reference(model, params, z), f(z), r(z)

        out, ref, (v, g), (v_ref, g_ref) = both(x)
        assert out.shape == (4, 5) and out.dtype == jnp.float64
        assert_trees_close(out, ref, IDENTITY)
        # the input gradient (what PGD attacks use) agrees with the reference's too
        assert_trees_close((v, g), (v_ref, g_ref), IDENTITY)


def test_shapes_images_flat_and_leading_dims_float32():
    img = CNN(features=(4,), outputs=3)
    flat = CNN(features=(4,), outputs=3, image_shape=(8, 8, 1))
    x = _images((2, 5, 8, 8, 1), dtype=jnp.float32)

    @jax.jit
    def outs(x):
        params = img.init(KEY, x[0])
        # images with two leading axes, the same as flat vectors, and one unbatched vector
        return (img.apply(params, x), flat.apply(params, x.reshape(2, 5, 64)),
                flat.apply(params, x[0, 0].reshape(64)))

    out, out_flat, one = outs(x)
    assert out.shape == (2, 5, 3) and out.dtype == jnp.float32 and one.shape == (3,)
    assert_trees_close(out_flat, out, IDENTITY_F32)
    # 28 × 28 → 14 × 14 → 7 × 7 with stride 2 (SAME): the head sees 7·7·16 features
    p28 = jax.eval_shape(CNN(features=(8, 16), outputs=10, image_shape=(28, 28, 1)).init, KEY,
                         jnp.ones((1, 784)))
    assert p28["params"]["Dense_0"]["kernel"].shape == (7 * 7 * 16, 10)


def test_init_is_a_function_of_the_key_and_vmaps_over_seeds():
    model = CNN(features=(4, 8), outputs=3, image_shape=(8, 8, 1))
    x = _images((6, 64))
    init, apply = jax.jit(model.init), jax.jit(model.apply)
    a, b, c = (init(k, x) for k in (KEY, KEY, jax.random.key(1)))
    assert_trees_close(a, b, IDENTITY)
    assert not np.allclose(a["params"]["Conv_0"]["kernel"], c["params"]["Conv_0"]["kernel"])
    keys = jax.random.split(KEY, 3)
    params = jax.jit(jax.vmap(model.init, in_axes=(0, None)))(keys, x)
    out = jax.jit(jax.vmap(model.apply, in_axes=(0, None)))(params, x)
    for i, k in enumerate(keys):
        assert_trees_close(out[i], apply(init(k, x), x), IDENTITY)


@pytest.mark.parametrize("kwargs,x_shape,match", [
    (dict(features=(0,)), (1, 8, 8, 1), r"CNN\(features\[0\]=...\)"),
    (dict(features=()), (1, 8, 8, 1), r"CNN\(features=...\)"),
    (dict(outputs=0), (1, 8, 8, 1), r"CNN\(outputs=...\)"),
    (dict(kernel=0), (1, 8, 8, 1), r"CNN\(kernel=...\)"),
    (dict(strides=-1), (1, 8, 8, 1), r"CNN\(strides=...\)"),
    (dict(hidden=(0,)), (1, 8, 8, 1), r"CNN\(hidden\[0\]=...\)"),
    (dict(implementation="fft"), (1, 8, 8, 1), r"CNN\(implementation=...\)"),
    (dict(image_shape=(8, 8)), (1, 64), r"CNN\(image_shape=...\)"),
    (dict(image_shape=(8, 8, 1)), (1, 63), r"takes inputs \(\.\.\., 64\), got x of shape"),
    (dict(), (1, 64), r"takes images \(\.\.\., H, W, C\)"),
])
def test_bad_input_names_the_argument(kwargs, x_shape, match):
    with pytest.raises(ValueError, match=match):
        CNN(**kwargs).init(KEY, jnp.ones(x_shape))


@pytest.mark.slow  # trains for ~4 s on 2 shared cores; `make test-all` runs it
def test_learns_a_tiny_separable_image_problem():
    """Class = which half (left/right) of an 8×8 noisy image is bright: 100 % train accuracy."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 64)
    x = rng.uniform(0, 0.5, (64, 8, 8, 1))
    x[y == 0, :, :4] += 0.5
    x[y == 1, :, 4:] += 0.5
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y)
    model = CNN(features=(4,), outputs=2)
    params = model.init(KEY, x)

    def loss(p, xb, yb):
        return optax.softmax_cross_entropy_with_integer_labels(model.apply(p, xb), yb).mean()

    before = float(loss(params, x, y))
    params, _, _ = run(from_optax(optax.adam(3e-2), loss), params, 60, x, y)
    acc = float(jnp.mean(jnp.argmax(model.apply(params, x), -1) == y))
    assert acc == 1.0 and float(loss(params, x, y)) < 0.2 * before
