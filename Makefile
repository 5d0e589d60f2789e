# mixtera — build, test, demo, bench. `make demo` and `make test` do all setup on a fresh Debian machine.
SHELL := /bin/bash
SWIFT ?= swift
CONFIG ?= debug
BIN := .build/$(CONFIG)/mixtera
DEB_PACKAGES := time libsqlite3-dev libzstd-dev libarchive-dev libxxhash-dev libsnappy-dev liblz4-dev zlib1g-dev libbrotli-dev zstd xz-utils bzip2 gzip tar
PYTHON ?= python3

.PHONY: deps build release test demo bench bench-catalog fixtures fuzz lint format clean pydeps

# Installs missing Debian packages; runs `apt-get update` once, only when something is missing.
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# Python packages for fixtures, the benchmark corpus and the Python reader's tests.
pydeps:
	@$(PYTHON) -c "import numpy, pyarrow, pytest, zstandard" 2>/dev/null || \
	  $(PYTHON) -m pip install -q numpy pyarrow pytest zstandard

build: deps
	$(SWIFT) build -c $(CONFIG)

release: deps
	$(SWIFT) build -c release

test: deps pydeps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	scripts/test-python.sh
	scripts/test-report.sh

demo: deps
	$(SWIFT) build -c release --product mixtera
	@scripts/demo.sh .build/release/mixtera

bench: deps pydeps
	$(SWIFT) build -c release --product mixtera
	@scripts/bench.sh .build/release/mixtera

# Catalog scaling on synthetic tiny-record shards (10^6 and 10^7 samples; BENCH_CATALOG_SIZES to change).
bench-catalog: deps pydeps
	$(SWIFT) build -c release --product mixtera
	@scripts/bench-catalog.sh .build/release/mixtera

fixtures: deps pydeps
	$(PYTHON) scripts/make-fixtures.py

# libFuzzer targets (Fuzz/ package), FUZZ_SECONDS each (default 60); crashes land in fixtures/bad/fuzz/.
fuzz: deps
	scripts/fuzz.sh

lint:
	$(SWIFT) format lint --recursive Sources Tests

format:
	$(SWIFT) format --in-place --recursive Sources Tests

clean:
	rm -rf .build .demo .bench
