# pixgrade: two commands set everything up on a fresh machine.
#   make demo   score the bundled example images with the shipped model
#   make test   lint, type-check and run the test suite
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH  ?= torch==2.13.0
# The companion package of the MobileNetV2 ImageNet weights (torchvision's file, BSD-3-Clause), built from this
# repository; `pixgrade[train]` depends on it.
WEIGHTS := ./packages/pixgrade-imagenet-weights
DEMO_OUT ?= demo-output

.PHONY: demo test lint typecheck pytest licenses docs wheel-check wheel-check-pythons venv browser clean test-ray int8-model presentation-model

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first (the CPU build from the pinned version), then the ImageNet weights package of this repository
# (not on the package index pip reads), then pixgrade itself.
$(VENV)/.installed: pyproject.toml packages/pixgrade-imagenet-weights/pyproject.toml Makefile | $(BIN)/python
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet $(WEIGHTS)
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(BIN)/pixgrade score examples -o $(DEMO_OUT)/results.csv --html $(DEMO_OUT)/index.html --overwrite
	@echo "results: $(DEMO_OUT)/results.csv   page: $(DEMO_OUT)/index.html"

lint: venv
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/ruff format --check src tests benchmarks tools

typecheck: venv
	$(BIN)/mypy src/pixgrade

# Headless Chromium for the web page's end-to-end test (Debian packages).
browser:
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) || \
	  echo "warning: could not install chromium; browser tests will be skipped"

pytest: venv browser
	$(BIN)/python -m pytest -q

# Every installed runtime dependency of pixgrade (core and runtime extras) against a licence allow-list.
licenses: venv
	$(BIN)/python tools/check_licenses.py --extras train,onnx,serve,ray,datasets

# Build the sdist and wheel, install the wheel into a fresh venv (no Makefile, no torch) and run score, filter
# (PP-OCRv4 detector) and serve on examples/; they must give this environment's results (tools/check_wheel_install.py).
wheel-check: venv
	$(BIN)/python tools/check_wheel_install.py

# The same check with the fresh venv made by each interpreter of PYTHONS (names on PATH or paths), e.g.
#   make wheel-check-pythons PYTHONS="/root/.pyenv/versions/3.12.1/bin/python3.12 python3.13"
# One work folder per interpreter (build/wheel-check-<name>); runs them all, fails if any failed. Not part of
# `make test` (about a minute each, most of it pip).
PYTHONS ?= python3.12 python3.13
wheel-check-pythons: venv
	@failed=""; for py in $(PYTHONS); do \
	  $(BIN)/python tools/check_wheel_install.py --python "$$py" --work "build/wheel-check-$$(basename $$py)" \
	    || failed="$$failed $$py"; \
	done; \
	if [ -n "$$failed" ]; then echo "wheel check failed with:$$failed" >&2; exit 1; fi

# The documentation site (MkDocs Material + mkdocstrings API reference) into build/site; any warning fails.
docs: venv
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

test: lint typecheck licenses pytest docs wheel-check

# Only the Ray engine's tests (one local Ray instance, 2 CPUs; S3 through a local moto server). `make test` runs
# them too: the test extra installs ray and moto.
test-ray: venv
	$(BIN)/python -m pytest -q -m ray tests/engines

# The shipped INT8 model (src/pixgrade/model/weights/pixgrade_mnv2.int8.onnx), calibrated on 150 fixed images of
# ../shared/data (or $$PIXGRADE_DATA). Rerun after replacing the shipped weights; does nothing when up to date.
# Uses .venv if present, else the python on PATH (override: make int8-model INT8_PYTHON=/path/to/python).
INT8_PYTHON ?= $(if $(wildcard $(BIN)/python),$(BIN)/python,python)
int8-model:
	$(INT8_PYTHON) tools/build_int8_model.py

# The presentation judgement (src/pixgrade/model/weights/presentation.npz), keyed to the shipped weights' SHA-256.
# Rerun after replacing the shipped weights (tests/model/test_model_presentation.py fails until then); needs
# scikit-learn (the bench extra) and ../shared/data (or $$PIXGRADE_DATA); a few minutes on 2 cores.
presentation-model:
	$(INT8_PYTHON) tools/fit_presentation.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .mypy_cache .ruff_cache
