r"""Stochastic bilevel optimization: BO-REP (Hao, Gong, Liu, ICLR 2024) and its baselines.

The problem is

.. math::
    \min_x \Phi(x) := f(x, y^*(x)), \qquad y^*(x) = \arg\min_y g(x, y),

with :math:`g` strongly convex in :math:`y`. By the implicit function theorem

.. math::
    \nabla\Phi(x) = \nabla_x f - \nabla^2_{xy} g\, z^*, \qquad
    z^* = [\nabla^2_{yy} g]^{-1} \nabla_y f,

where :math:`\nabla^2_{xy} g\, z := \nabla_x \langle \nabla_y g(x, y), z\rangle`. Every method
here uses the same stochastic oracles, written once in this module from JAX autodiff:

* ``upper_fn(x, y, batch) -> scalar`` (:math:`F(x, y; \xi)`) and
  ``lower_fn(x, y, batch) -> scalar`` (:math:`G(x, y; \zeta)`), over pytrees (flax params too);
* the Hessian-vector product :math:`\nabla^2_{yy} G\, z` as ``jvp`` of ``grad`` (forward over
  reverse), and the cross term :math:`\nabla^2_{xy} G\, z` as ``grad_x <grad_y G, z>``.

The solvers follow the :class:`~jaxrank.optim.Solver` contract with ``params = (x, y)``: ``init(
(x, y), *args)`` and ``update((x, y), state, *args, key)``, so they run under
``run((x0, y0), T, *args, key=key)``. Minibatches come from ``sampler(key, *args) -> batch``;
without a sampler every oracle sees the full batch ``args`` (a tuple) and the key is unused.
One call of ``sampler`` per oracle group, with keys ``fold_in(key_t, i)``, so the periodic
lower-level bursts draw fresh minibatches at every inner step.

The key may be of any PRNG implementation, and the library never changes JAX's flags: the caller
chooses the generator. ``jax.random.key(seed)`` (threefry2x32, JAX's default) is what the
experiments use. On small problems the noise generation can cost more than the oracles, because
the sampler is called several times per step: on the CPU, threefry takes about 95 % of a BO-REP
step at d = 10 (``bench.bo_rep``). ``jax.random.key(seed, impl="unsafe_rbg")`` (or ``"rbg"``)
gives a cheaper generator, with noise of the same distribution but a *different stream*.
Under ``vmap``, rbg-family keys also give streams other than the per-run loop's, so a sweep does
not reproduce single runs bit for bit.

Methods (one implementation each, shared by every experiment):

* :func:`bo_rep` — Algorithm 1 of the paper (normalized momentum on x, initialization
  refinement, periodic lower-level updates under ``lax.cond``, SOBA-type z-iteration);
* :func:`stocbio` (Ji, Yang, Liang 2021; Neumann series), :func:`ttsa` (Hong et al. 2023;
  random-truncation Neumann, two time scales), :func:`soba` (Dagréou et al. 2022),
  :func:`ma_soba` (Chen, Xu, Zhang 2023; SOBA + moving average), :func:`saba` (Dagréou et al.
  2022; SOBA + SAGA over a finite set of minibatches), :func:`sustain` (Khanduri et al. 2021;
  STORM-type recursive momentum on both levels), :func:`vrbo` (Yang, Ji, Liang 2021;
  SARAH/SPIDER variance reduction, double loop), :func:`anil` (Raghu et al. 2020; unrolled
  differentiation through inner SGD on the lower variable), :func:`maml` (Finn et al. 2017;
  inner SGD on both variables per task, first- or second-order meta-gradient);
* :func:`exact_hypergradient` (dense solve) and :func:`implicit_argmin` (custom-VJP argmin), the
  references the tests and the synthetic figure use.
"""

from __future__ import annotations

# The solvers live in three modules by concept and their building blocks in bilevel_core; this
# module keeps the one import path (``from jaxrank.optim import bilevel as B``).
from jaxrank.optim.bilevel_borep import (  # noqa: F401
    BoRepState,
    bo_rep,
    epoch_sgd,
)
from jaxrank.optim.bilevel_core import (  # noqa: F401  (private: stream ids used by tests/bench)
    _HYPER,
    _LOWER,
    _NEUMANN,
    _REFINE,
    _TRUNC,
    _ZSTEP,
    Oracle,
    _pair,
    _split,
    cross_xy,
    exact_hypergradient,
    hvp_yy,
    hypergradient_estimate,
    implicit_argmin,
    lower_sgd,
    neumann_inverse,
)
from jaxrank.optim.bilevel_soba import (  # noqa: F401
    ANILState,
    MAMLState,
    SABAState,
    SOBAState,
    StocBiOState,
    TTSAState,
    anil,
    ma_soba,
    maml,
    saba,
    soba,
    stocbio,
    ttsa,
)
from jaxrank.optim.bilevel_vr import (  # noqa: F401
    SUSTAINState,
    VRBOState,
    sustain,
    vrbo,
)

__all__ = [
    "BoRepState",
    "StocBiOState",
    "TTSAState",
    "SOBAState",
    "SABAState",
    "SUSTAINState",
    "VRBOState",
    "ANILState",
    "MAMLState",
    "bo_rep",
    "stocbio",
    "ttsa",
    "soba",
    "ma_soba",
    "saba",
    "sustain",
    "vrbo",
    "anil",
    "maml",
    "exact_hypergradient",
    "implicit_argmin",
    "hvp_yy",
    "cross_xy",
    "hypergradient_estimate",
    "neumann_inverse",
    "lower_sgd",
    "epoch_sgd",
]
