# The course's two set-up commands (see README.md):
#   make lab    create .venv, install the course, start JupyterLab on notebooks/
#   make test   create .venv, install the course, run every test (package + notebooks)
#   make test-latest   the same tests in .venv-latest, with the newest releases instead of constraints.txt
#   make test-gpu      on a GPU machine: the GPU workflow's steps (.github/workflows/gpu.yml) in .venv-gpu

PYTHON ?= python3
VENV   ?= .venv
PORT   ?= 8888
BIN    := $(VENV)/bin
# JupyterLab refuses to run as root unless told to (containers, WSL set-ups often are root)
ROOT_FLAG := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root,)
STAMP  := $(VENV)/.installed
# the versions CI tests; make test-latest ignores it
CONSTRAINTS := constraints.txt
VENV_LATEST ?= .venv-latest

.PHONY: lab test test-latest install generate execute doctor clean install-gpu gpu-check test-gpu

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed, found " + sys.version.split()[0] + ": set PYTHON=/path/to/python3.x")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --progress-bar off -c $(CONSTRAINTS) -e ".[test]"
	@touch $(STAMP)
	@echo "Installed the course into $(VENV)."

install: $(STAMP)

# generate writes only missing or untouched student notebooks: an edited one is kept as it is
lab: install
	@$(BIN)/cnncourse generate --check >/dev/null 2>&1 || $(BIN)/cnncourse generate
	@echo "Starting JupyterLab on notebooks/; open the URL printed below (Ctrl-C stops it)."
	$(BIN)/jupyter lab --notebook-dir=notebooks --no-browser --ip=127.0.0.1 --port=$(PORT) $(ROOT_FLAG)

test: install
	$(BIN)/cnncourse generate --check
	$(BIN)/python -m pytest

# What the next releases break: a separate venv, everything upgraded, no constraints.
test-latest:
	$(PYTHON) -m venv $(VENV_LATEST)
	$(VENV_LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_LATEST)/bin/python -m pip install --quiet --progress-bar off --upgrade --upgrade-strategy eager -e ".[test]"
	@$(VENV_LATEST)/bin/python -m pip freeze --exclude-editable > $(VENV_LATEST)/versions.txt
	@echo "Versions that differ from $(CONSTRAINTS) (< tested, > installed; all in $(VENV_LATEST)/versions.txt):"
	@grep -v '^#' $(CONSTRAINTS) | diff - $(VENV_LATEST)/versions.txt | grep '^[<>]' || echo "  none"
	$(VENV_LATEST)/bin/cnncourse generate --check
	$(VENV_LATEST)/bin/python -m pytest

generate: install
	$(BIN)/cnncourse generate

execute: install
	$(BIN)/cnncourse execute

doctor: install
	$(BIN)/cnncourse doctor

# The GPU runner's steps (.github/workflows/gpu.yml), on a machine with an NVIDIA GPU: the course
# with the gpu extra in $(VENV_GPU); stop at once when TensorFlow sees no GPU; the doctor's
# report; the GPU-marked tests and the layers' XLA and mixed-precision tests; nbval on every
# solution notebook in the full profile, the executed notebooks and a timing table in $(GPU_REPORT)/.
VENV_GPU ?= .venv-gpu
GPU_REPORT ?= gpu-report
STAMP_GPU := $(VENV_GPU)/.installed

$(STAMP_GPU): pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV_GPU)
	$(VENV_GPU)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_GPU)/bin/python -m pip install --quiet --progress-bar off -c $(CONSTRAINTS) -e ".[test,gpu]"
	@touch $(STAMP_GPU)

install-gpu: $(STAMP_GPU)

gpu-check: install-gpu
	$(VENV_GPU)/bin/python -c 'import sys, tensorflow as tf; gpus = tf.config.list_physical_devices("GPU"); print("TensorFlow", tf.__version__, "sees", len(gpus), "GPU(s)"); sys.exit(0 if gpus else "TensorFlow sees no GPU: check the NVIDIA driver and the gpu extra (cnncourse doctor says more)")'
	CNNCOURSE_PROFILE=full $(VENV_GPU)/bin/cnncourse doctor

test-gpu: gpu-check
	@mkdir -p $(GPU_REPORT)
	CNNCOURSE_PROFILE=full $(VENV_GPU)/bin/python -m pytest -q -m gpu tests --junitxml=$(GPU_REPORT)/gpu-tests.xml
	CNNCOURSE_PROFILE=full $(VENV_GPU)/bin/python -m pytest -q tests/test_layers.py -k "jit or mixed" --junitxml=$(GPU_REPORT)/layers.xml
	CNNCOURSE_PROFILE=full $(VENV_GPU)/bin/python -m pytest -q -p benchmarks.nbval_record --nbval-record=$(GPU_REPORT) solutions --junitxml=$(GPU_REPORT)/nbval-full.xml

clean:
	rm -rf $(VENV) $(VENV_LATEST) $(VENV_GPU) .pytest_cache build *.egg-info
