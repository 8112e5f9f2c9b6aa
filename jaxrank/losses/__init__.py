"""Loss functions: per-example losses ``loss(logits, labels, *, hyper, axis=-1)`` in optax order
(comp-sum, spherical / Z-loss), and batch-level, non-decomposable ones (AnyLoss)."""

from jaxrank.losses.adversarial import (  # noqa: E501, F401  (compsum)
    comp_sum_delta_distance,
    margin_loss,
    pgd_at_loss,
    pgd_attack,
    pgd_ce_attack,
    pgd_margin_attack,
    robust_accuracy,
    smooth_adversarial_comp_sum_loss,
    trades_loss,
)
from jaxrank.losses.anyloss import (  # noqa: F401  (anyloss)
    anyloss,
    score_oriented_loss,
    soft_confusion_matrix,
)
from jaxrank.losses.comp_sum import (  # noqa: E501, F401  (compsum)
    bounded_conditional_min_loss,
    comp_sum_bound,
    comp_sum_bound_inverse,
    comp_sum_bound_inverse_sqrt,
    comp_sum_loss,
    comp_sum_phi,
    conditional_comp_sum_risk,
    conditional_min_loss,
    conditional_minimizer,
    excess_zero_one_risk,
    generalized_cross_entropy_loss,
    logistic_loss,
    mae_loss,
    minimizability_gap,
    sum_exp_loss,
)
from jaxrank.losses.spherical import (  # noqa: E501, F401  (zloss)
    log_softmax_loss,
    log_spherical_softmax_loss,
    log_taylor_softmax_loss,
    spherical_coefficients,
    spherical_loss,
    spherical_scores,
    spherical_stats,
    spherical_stats_loss,
    squared_error_loss,
    topk_accuracy,
    topk_error,
    z_loss,
    z_scores,
)
