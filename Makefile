# labeler — every target creates the virtualenv on first use, so a fresh machine needs only `make demo`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.stamp-install
DEMO_OUT ?= out/demo
PYTEST_WORKERS ?= 2

.PHONY: venv demo test lint bench font golden clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Label and verify the bundled sample media, printing a table.
demo: $(STAMP)
	$(PY) -m labeler.demo --out $(DEMO_OUT)

## The test suite (what CI runs).
test: $(STAMP)
	$(PY) -m pytest -q -n $(PYTEST_WORKERS)

lint: $(STAMP)
	$(VENV)/bin/ruff check labeler tests benchmarks
	$(VENV)/bin/mypy

## Quality, robustness and speed tables on real photographs.
bench: $(STAMP)
	$(PY) -m benchmarks.image
	$(PY) -m benchmarks.flat_area
	$(PY) -m benchmarks.video

## Rebuild the bundled CJK font subset from Debian's fonts-noto-cjk (needs apt).
font: $(STAMP)
	$(PY) -m labeler.explicit.build_font

## Regenerate golden files (opt-in; review the diff before committing).
golden: $(STAMP)
	LABELER_REGENERATE_GOLDEN=1 $(PY) -m pytest -q tests -k golden

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
