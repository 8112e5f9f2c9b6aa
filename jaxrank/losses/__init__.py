"""Loss functions, ``loss(logits, labels, *, hyper, axis=-1) -> per-example loss`` (optax order)."""

from jaxrank.losses.spherical import (  # noqa: E501, F401  (zloss)
    log_softmax_loss,
    log_spherical_softmax_loss,
    log_taylor_softmax_loss,
    spherical_coefficients,
    spherical_loss,
    spherical_stats,
    spherical_stats_loss,
    squared_error_loss,
    topk_error,
    z_loss,
    z_scores,
)
