"""Slow: FULL-mode recomputation of committed records (run by `make test-all`)."""

import json
from pathlib import Path

import pytest

from jaxrank.data.images import FASHION_MNIST_FILES, fashion_mnist_root

REPO = Path(__file__).resolve().parent.parent
HAVE_FMNIST = all(
    (fashion_mnist_root(None) / f).exists() for pair in FASHION_MNIST_FILES.values() for f in pair
)


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_FMNIST, reason="needs `make data` (dataset-fashion-mnist)")
@pytest.mark.parametrize("fig_id", ["tab1", "thm41"])
def test_full_run_reproduces_committed_summary(fig_id):
    """The committed Table 1 / Thm 4.1 numbers are regenerated exactly from the library."""
    from experiments import perceptron as E

    with E._harness.precision(E.FULL.dtype):  # as the harness runs it
        results = E.FIGURES[fig_id].run(E.FULL)
    committed = json.loads((REPO / "figures" / "perceptron" / f"{fig_id}.json").read_text())
    fresh = json.loads(json.dumps(E._harness.to_jsonable(results.summary)))
    assert fresh == committed["summary"]
