"""The objects the papers optimize: objectives, online environments and their data.

A problem is a small protocol, not a class hierarchy. It provides

- the **objective** ``fun(x, *data) -> scalar`` (or, online, a loss per round);
- its **oracles** where available: value and gradient (by ``jax.grad`` when not given), a
  Hessian, a Hessian-vector product, a diagonal, an upper bound or a Gauss–Newton / Fisher
  approximation, each with the objective's signature;
- a starting point **x₀** and the optimal value **f\\*** when known (e.g. ``f* = 0`` for the
  consistent residual problems, :func:`gn_functions.lse_zero_shift` for log-sum-exp);
- the **data** it is evaluated on, passed as arguments so large matrices are never baked into
  compiled code.

Problems sit below the solvers: nothing here imports :mod:`jaxrank.optim` or
:mod:`jaxrank.online` (solvers and learners import problems, never the reverse).

Modules:

- :mod:`jaxrank.problems.gn_functions`: the test problems of the gradient-normalized smoothness
  paper (log-sum-exp, power of linear/Rosenbrock/Chebyshev residuals, logistic and softmax
  regression) with their Hessians and approximations;
- :mod:`jaxrank.problems.sea_environments`: the stochastically extended adversarial (SEA)
  environments of the optimistic-OMD paper, with closed-form σ², Σ² and best-fixed oracles;
- :mod:`jaxrank.problems.domains`: feasible sets X (ball, box) with their projections.
"""

from jaxrank.problems import domains, gn_functions, sea_environments

__all__ = ["domains", "gn_functions", "sea_environments"]
