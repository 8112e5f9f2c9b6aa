"""Small flax models used by the experiments (kept tiny and dependency-free)."""

from jaxrank.models.cnn import CNN
from jaxrank.models.mlp import MLP

__all__ = ["CNN", "MLP"]
