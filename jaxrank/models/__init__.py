"""Small flax models used by the experiments (kept tiny and dependency-free)."""

from jaxrank.models.mlp import MLP

__all__ = ["MLP"]
