"""Loss functions: per-example losses in optax order, and batch-level (non-decomposable) ones."""

from jaxrank.losses.anyloss import anyloss, score_oriented_loss, soft_confusion_matrix  # noqa: F401
