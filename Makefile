# Countersign: two commands.
#   make run   builds and launches Countersign (for now: the CLI demo and the report it signs)
#   make test  runs every check: fmt, clippy -D warnings, cargo deny, all tests, fuzz-corpus replay
#              (installs Debian's dcmtk and dicom3tools when missing: renders are checked against DCMTK)

SHELL := /bin/bash
# Build outside the clone so that repeat runs (and CI on the same machine) are incremental.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/countersign/target
CARGO ?= cargo
DEMO_HOME ?= $(CURDIR)/demo-home
BIN := $(CARGO_TARGET_DIR)/release/countersign
# Python packages the tests check our output against (pydicom), outside the clone like the target.
VENV ?= $(HOME)/.cache/countersign/venv
export COUNTERSIGN_PYTHON := $(VENV)/bin/python

.PHONY: run test build deps venv check-fmt clippy deny unit bench bench-import compare-dcmtk fuzz

run: deps build
	rm -rf "$(DEMO_HOME)"
	"$(BIN)" --home "$(DEMO_HOME)" demo
	@echo
	"$(BIN)" --home "$(DEMO_HOME)" report show "$$("$(BIN)" --home "$(DEMO_HOME)" --json report list | sed -E 's/.*"report":"([0-9a-f]{64})".*/\1/')"
	@echo
	"$(BIN)" --home "$(DEMO_HOME)" verify

build:
	$(CARGO) build --release --locked -p countersign-cli

# System packages the build and tests need, installed when missing (Debian, as root or sudo).
deps:
	@missing=""; \
	command -v c++ >/dev/null || missing="$$missing build-essential"; \
	command -v cmake >/dev/null || missing="$$missing cmake"; \
	command -v nasm >/dev/null || missing="$$missing nasm"; \
	command -v sha256sum >/dev/null || missing="$$missing coreutils"; \
	command -v python3 >/dev/null || missing="$$missing python3"; \
	python3 -c "import ensurepip, venv" 2>/dev/null || missing="$$missing python3-venv"; \
	command -v dcm2pnm >/dev/null || missing="$$missing dcmtk"; \
	command -v dciodvfy >/dev/null || missing="$$missing dicom3tools"; \
	command -v gdcmconv >/dev/null || missing="$$missing libgdcm-tools"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q $$missing; \
	fi

test: deps venv check-fmt clippy deny unit

# Recreated when tests/requirements.txt changes.
venv: $(VENV)/.installed
$(VENV)/.installed: tests/requirements.txt
	python3 -m venv "$(VENV)"
	"$(VENV)/bin/pip" install --quiet --disable-pip-version-check -r tests/requirements.txt
	touch "$@"

check-fmt:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

deny:
	@command -v cargo-deny >/dev/null || $(CARGO) install cargo-deny --locked --version 0.20.2
	cargo-deny --workspace check --hide-inclusion-graph licenses bans sources

# The integration tests drive the real CLI binary, built first.
unit:
	$(CARGO) build --locked -p countersign-cli
	$(CARGO) test --workspace --locked

bench:
	$(CARGO) bench -p countersign-benches

# Whole-process import of a 500-instance 512×512 series: instances/s and peak RSS.
bench-import: build
	BIN="$(BIN)" scripts/bench-import.sh

# Whole-process render times beside DCMTK (and GDCM for JPEG 2000); needs hyperfine, libgdcm-tools.
compare-dcmtk: build
	scripts/compare-dcmtk.sh

# Coverage-guided fuzzing of the untrusted-input decoders (needs cargo-fuzz; see fuzz/README.md).
fuzz:
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run header_decode -- -max_total_time=60
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run bundle_decode -- -max_total_time=60
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run dicom_decode -- -max_total_time=60 -max_len=4096
