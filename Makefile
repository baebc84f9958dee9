# curate — set-up, tests, sample corpus, recipes and benchmarks.
#   make recipe=gpt3mix   set up, build the sample corpus if missing, run the recipe, train the stub on it
#   make test             set up, lint (ruff check, ruff format --check) and run the whole test suite on 2 workers
#   make bench            benchmarks (ratios against the reference libraries, measured side by side)
#   make bench-scale      the runner at 1e5 and 1e6 documents (DOCS=100000 for one size); not in make bench
#   make ablate recipe=gpt3mix   proxy-model ablation: raw vs curated at one token budget (ABLATE_ARGS=...)
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SYSSTAMP := $(VENV)/.sysdeps
# Where `curate sample` builds the sample corpus and the shipped recipes read it (curate.io.sample_dir):
# $CURATE_DATA when set, else $XDG_DATA_HOME/curate/sample, else ~/.local/share/curate/sample.
XDG_DATA_HOME ?= $(HOME)/.local/share
SAMPLE := $(or $(CURATE_DATA),$(XDG_DATA_HOME)/curate/sample)
STEPS ?= 300
# The trainer's model size: auto picks small on a GPU and cpu (about a minute for 200 steps on 2 cores) on a CPU.
TRAIN_CONFIG ?= auto
FROM ?=
# Extra flags for `make ablate`, e.g. ABLATE_ARGS="--variants raw,curated,-dedup --seeds 5 --steps 600".
ABLATE_ARGS ?=
# Debian packages: the sample corpus's real text (see docs/SAMPLE.md) and Chromium for the report test.
APT_PACKAGES := python3.11-doc debian-handbook dict-foldoc jargon-text dict-devil bible-kjv chromium
export CURATE_TEST_DATA ?= $(abspath ../shared/corpus)

.PHONY: default venv sysdeps sample run ablate lint test test-fast bench bench-scale clean
default:
ifdef recipe
	@$(MAKE) --no-print-directory run recipe=$(recipe)
else
	@echo "usage: make recipe=gpt3mix | make ablate recipe=gpt3mix | make test | make bench | make sample [FROM=DIR]"
endif

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt -c constraints.txt
	touch $@

venv: $(STAMP)

$(SYSSTAMP): Makefile
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@mkdir -p $(VENV) && touch $@

sysdeps: $(SYSSTAMP)

$(SAMPLE)/.complete: | $(STAMP) $(SYSSTAMP)
	$(PY) -m curate sample --out $(SAMPLE) $(if $(FROM),--from $(FROM))

sample: $(STAMP) $(SYSSTAMP)
	$(PY) -m curate sample --out $(SAMPLE) $(if $(FROM),--from $(FROM))

run: $(STAMP) $(SAMPLE)/.complete
	CURATE_DATA=$(SAMPLE) $(PY) -m curate run recipes/$(recipe).yaml
	$(PY) -m trainer --manifest runs/$(recipe)/manifest.json --steps $(STEPS) --config $(TRAIN_CONFIG) --out runs/$(recipe)/trainer
	$(PY) -m curate report runs/$(recipe)

ablate: $(STAMP) $(SAMPLE)/.complete
	@test -n "$(recipe)" || { echo "usage: make ablate recipe=gpt3mix [ABLATE_ARGS=...]"; exit 2; }
	CURATE_DATA=$(SAMPLE) $(PY) -m curate ablate recipes/$(recipe).yaml $(ABLATE_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Two pytest-xdist workers; --dist loadscope sends each test module, or group of modules sharing a costly
# fixture or Ray's ports, to one worker (tests/conftest.py: SHARED_SCOPES).
test: lint $(SYSSTAMP)
	$(PY) -m pytest -q -p no:cacheprovider -n 2 --dist loadscope tests

# datatrove for bench/vs_datatrove.py, in its own venv (its pins differ from ours: trafilatura < 1.12)
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed
$(BENCH_STAMP): Makefile
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q "datatrove[io,processing]==0.10.1" spacy==3.8.7 lxml_html_clean==0.4.7
	touch $@

bench: $(STAMP) $(BENCH_STAMP)
	$(PY) -m bench

bench-scale: $(STAMP)  # minutes to hours: 1e5 and 1e6 documents through filters, mix and tokenize
	$(PY) -m bench scale $(if $(DOCS),--docs=$(DOCS))

clean:  # the sample corpus stays (it is shared with installed curate): rm -rf $(SAMPLE) removes it
	rm -rf runs .pytest_cache
