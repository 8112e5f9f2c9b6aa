"""The public surface: `import jaxrank` exposes the families, every module declares `__all__`,
and every name in an `__all__` exists."""

import importlib
import pkgutil

import jaxrank

FAMILIES = ("data", "losses", "models", "online", "optim", "sweep")


def _modules():
    for info in pkgutil.walk_packages(jaxrank.__path__, "jaxrank."):
        leaf = info.name.rsplit(".", 1)[-1]
        if leaf.startswith("_"):  # private helpers and __main__
            continue
        yield importlib.import_module(info.name)


def test_import_jaxrank_exposes_the_families():
    for name in FAMILIES:
        assert name in jaxrank.__all__ and hasattr(jaxrank, name), name


def test_every_public_module_declares_all_and_its_names_exist():
    missing = [m.__name__ for m in _modules() if not hasattr(m, "__all__")]
    assert not missing, f"modules without __all__: {missing}"
    for m in _modules():
        absent = [n for n in m.__all__ if not hasattr(m, n)]
        assert not absent, f"{m.__name__}.__all__ names missing objects: {absent}"


def test_named_exports():
    from jaxrank import losses

    for name in ("binary_cross_entropy", "classification_metrics", "comp_sum_loss", "z_loss",
                 "anyloss"):
        assert name in losses.__all__, name
