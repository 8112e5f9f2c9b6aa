"""The README's "Using the library, by family" examples: each block is, verbatim, a script of
``examples/``, and every script runs (the README cannot show code that does not run)."""

import re
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"<!-- example: (examples/\w+\.py) -->\n```python\n(.*?)\n```", re.S)


def readme_blocks():
    return BLOCK.findall((ROOT / "README.md").read_text())


def test_readme_has_one_example_per_family():
    names = [path for path, _ in readme_blocks()]
    assert names == ["examples/loss_training_loop.py", "examples/omd_as_optax.py",
                     "examples/newton_pytree.py", "examples/bilevel_ridge.py",
                     "examples/factored_under_trunk.py"]


@pytest.mark.parametrize("path, code", readme_blocks(),
                         ids=[Path(path).stem for path, _ in readme_blocks()])
def test_readme_block_is_the_example_and_runs(path, code):
    script = (ROOT / path).read_text()
    assert code.strip() in script, f"the README block differs from {path}"
    runpy.run_path(str(ROOT / path), run_name="__main__")  # its asserts check the outcome
