# The two commands a newcomer types: `make book` and `make test`. Both create .venv when missing.
SHELL := /bin/bash
comma := ,
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Python 3.11 only (torch==2.13.0 and the pins of pyproject.toml): stop now, not after torch is in;
# the venv's own Python once it exists (remove .venv to change it), else $(PYTHON)
USED_PYTHON := $(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON))
PYTHON_VERSION := $(shell $(USED_PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
ifneq ($(filter-out clean,$(or $(MAKECMDGOALS),test)),)
ifeq ($(PYTHON_VERSION),)
$(error $(USED_PYTHON): no working Python found; this project needs Python 3.11: make PYTHON=python3.11 <target>)
else ifneq ($(PYTHON_VERSION),3.11)
$(error $(USED_PYTHON) is Python $(PYTHON_VERSION); this project needs Python 3.11: $(if $(wildcard $(BIN)/python),rm -rf $(VENV)$(comma) then )make PYTHON=python3.11 <target>)
endif
endif

.PHONY: setup test lint pytest nbval test-lab test-labelstudio test-datumaro fuzz book book-smoke check-book bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[book,dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

pytest: $(STAMP)
	$(BIN)/python -m pytest -q

# every notebook under notebooks/ at its smoke profile (its parameters cell), errors only; the
# results and selection chapters read the smoke study's run store, run (or reused) first
nbval: $(STAMP)
	$(BIN)/claus run configs/smoke_study.yaml --jobs 2 --quiet >/dev/null
	$(BIN)/python -m pytest -q --nbval-lax notebooks

test: lint pytest nbval

book: $(STAMP)
	$(BIN)/claus run configs/default_study.yaml --jobs 2 --quiet
	$(BIN)/python scripts/execute_notebooks.py --profile default
	$(BIN)/jupyter-book build -W -n --keep-going .

book-smoke: $(STAMP)
	$(BIN)/claus run configs/smoke_study.yaml --jobs 2 --quiet
	$(BIN)/python scripts/execute_notebooks.py --profile smoke
	$(BIN)/jupyter-book build -W -n --keep-going .

# every page of the built book in headless Chromium: maths typeset, figures loaded, widgets
# rendered from their saved state, the kernel-free STeW explorer redrawn by each control
check-book: $(STAMP)
	$(BIN)/python scripts/check_book.py _build/html --screenshots _build/screenshots \
		--expect book/metrics.html:typeset=50 --expect book/generated/stew.html:explorers=1 \
		--expect book/generated/stew.html:widget_elements=5 --expect book/generated/data.html:figures=1 \
		--expect book/generated/table5.html:figures=1 --expect book/generated/labeling.html:figures=3 \
		--expect book/labeling_backend.html:figures=1 --expect book/generated/study.html:figures=2

# the live STeW explorer in JupyterLab on 127.0.0.1, driven by headless Chromium
test-lab: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[lab]"
	$(BIN)/python -m pytest -q -m lab tests/browser

# the labeling loop against a real Label Studio 1.23.2 server on 127.0.0.1, installed in its own
# venv (its pins do not fit ours; it never touches .venv's torch): two rounds through its REST API
LS_VENV := .venv-labelstudio
test-labelstudio: $(STAMP)
	test -x $(LS_VENV)/bin/label-studio || ( $(PYTHON) -m venv $(LS_VENV) && \
		$(LS_VENV)/bin/python -m pip install --quiet "label-studio==1.23.2" )
	$(BIN)/python -m pytest -q -s -m labelstudio tests/tools/test_label_studio_server.py

# claus's CVAT XML read by datumaro's cvat importer (CVAT's dataset framework), no frame images;
# datumaro in its own venv as well
DM_VENV := .venv-datumaro
test-datumaro: $(STAMP)
	test -x $(DM_VENV)/bin/python || ( $(PYTHON) -m venv $(DM_VENV) && \
		$(DM_VENV)/bin/python -m pip install --quiet "datumaro==1.13.12" )
	$(BIN)/python -m pytest -q -m datumaro tests/tools/test_datumaro_reads_cvat.py

# coverage-guided fuzzing (atheris, the fuzz extra) for FUZZ_SECONDS each: the restricted unpickler,
# then the labeling importers (Label Studio JSON, CVAT XML); a finding is left as
# _build/fuzz/crash-* or oom-* and becomes a test (tests/data/test_safe_pickle.py, tests/labeling/)
FUZZ_SECONDS ?= 60
fuzz: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[fuzz]"
	mkdir -p _build/fuzz/corpus _build/fuzz/importers
	cd _build/fuzz && $(abspath $(BIN))/python $(CURDIR)/fuzz/fuzz_safe_pickle.py \
		-max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096 corpus
	cd _build/fuzz && $(abspath $(BIN))/python $(CURDIR)/fuzz/fuzz_importers.py \
		-max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096 -timeout=30 importers

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_round.py
	$(BIN)/python benchmarks/bench_round.py --isa avx2
	$(BIN)/python benchmarks/bench_selection.py
	$(BIN)/python benchmarks/bench_model.py
	$(BIN)/python benchmarks/bench_scoring.py
	$(BIN)/python benchmarks/bench_distributed.py

clean:
	rm -rf _build book/generated
