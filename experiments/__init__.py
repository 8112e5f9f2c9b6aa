"""Experiments: one thin module per paper (config, figure registry, plots). See ``_harness``."""
