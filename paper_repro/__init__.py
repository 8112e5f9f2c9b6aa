"""Paper claims, evaluated on the committed run records: ``python -m paper_repro.check``."""
