# labeler — every target creates the virtualenv on first use, so a fresh machine needs only `make demo`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.stamp-install
DEMO_OUT ?= out/demo
PYTEST_WORKERS ?= 2

.PHONY: venv native demo test lint bench font golden clean proto serve

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Optional C kernel for the embedder's per-pixel stage (labeler falls back to NumPy without it).
NATIVE_LIB := labeler/watermark/_fused_embed.so
native: $(NATIVE_LIB)

$(NATIVE_LIB): native/fused_embed.c
	$(CC) -O3 -march=native -fno-math-errno -ffinite-math-only -fPIC -shared -Wall -Wextra -o $@ $< -lm || echo "native kernel not built: labeler uses the NumPy reference"

## Regenerate the gRPC stubs in labeler/v1/ from protos/ (commit the result; a test fails when stale).
proto: $(STAMP)
	$(PY) -m grpc_tools.protoc -I protos --python_out=. --pyi_out=. --grpc_python_out=. protos/labeler/v1/labeler.proto

## Run the gRPC service on 127.0.0.1:50051 with an embedded SQLite registry and a dev key (under out/serve).
SERVE_DIR ?= out/serve
serve: $(STAMP) $(NATIVE_LIB)
	@test -f $(SERVE_DIR)/watermark.key || $(PY) -m labeler keys init --path $(SERVE_DIR)/watermark.key
	$(PY) -m labeler serve --address 127.0.0.1:50051 --key-file $(SERVE_DIR)/watermark.key \
		--registry $(SERVE_DIR)/registry.sqlite --metrics-port 9464

## Label and verify the bundled sample media, printing a table.
demo: $(STAMP) $(NATIVE_LIB)
	$(PY) -m labeler.demo --out $(DEMO_OUT)

## The test suite (what CI runs).
test: $(STAMP) $(NATIVE_LIB)
	$(PY) -m pytest -q -n $(PYTEST_WORKERS)

lint: $(STAMP)
	$(VENV)/bin/ruff check labeler tests benchmarks
	$(VENV)/bin/mypy

## Quality, robustness and speed tables on real photographs.
bench: $(STAMP) $(NATIVE_LIB)
	$(PY) -m benchmarks.image
	$(PY) -m benchmarks.flat_area
	$(PY) -m benchmarks.audio
	$(PY) -m benchmarks.provenance
	$(PY) -m benchmarks.visible_label
	$(PY) -m benchmarks.service_load
	$(PY) -m benchmarks.registry --postgres
	$(PY) -m benchmarks.audit --n 1000
	$(PY) -m benchmarks.video_rate
	$(PY) -m benchmarks.video

## Rebuild the bundled CJK font subset from Debian's fonts-noto-cjk (needs apt).
font: $(STAMP)
	$(PY) -m labeler.explicit.build_font

## Regenerate golden files (opt-in; review the diff before committing).
golden: $(STAMP)
	LABELER_REGENERATE_GOLDEN=1 $(PY) -m pytest -q tests -k golden

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache $(NATIVE_LIB)
