"""Models: small flax networks used by the experiments, and output layers for very many classes
(the exact factored layer, its O(Dd) reference, a hierarchical softmax) with :func:`with_trunk`
to train a network under one."""

from jaxrank.models.cnn import CNN
from jaxrank.models.factored_output import (
    FactoredState,
    OutputLayer,
    factored_output_layer,
    hierarchical_softmax_layer,
    naive_output_layer,
    scan_updates,
    unfactorize,
)
from jaxrank.models.mlp import MLP
from jaxrank.models.trunk import TrunkState, with_trunk

__all__ = [
    "CNN",
    "MLP",
    "OutputLayer",
    "FactoredState",
    "factored_output_layer",
    "naive_output_layer",
    "hierarchical_softmax_layer",
    "scan_updates",
    "unfactorize",
    "with_trunk",
    "TrunkState",
]
