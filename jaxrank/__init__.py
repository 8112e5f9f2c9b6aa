"""jaxrank: pure-functional JAX implementations of optimization-theory papers.

Library code is pure: no I/O (except the data loaders in :mod:`jaxrank.data`), no plotting, no
global JAX flags. Experiments and figures live outside the package, in ``experiments/``.
"""

from jaxrank import data, losses, models, online, optim, problems, sweep
from jaxrank._validate import checked

__version__ = "0.1.0"
__all__ = [
    "data", "losses", "models", "online", "optim", "problems", "sweep", "checked", "__version__",
]
