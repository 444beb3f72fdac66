#!/usr/bin/env bash
# Builds the Debian package (`.deb`) with Tauri's bundler from binaries cargo has already built:
# nothing is downloaded and nothing is rebuilt. The package holds the desktop app
# (/usr/bin/countersign-desktop, its desktop entry and icons) and the headless CLI
# (/usr/bin/countersign), with the decode worker both start (/usr/bin/countersign-decode-worker).
# Prints the package's path.
#
#   scripts/package.sh release|debug     (CARGO_TARGET_DIR and TAURI_CLI set by the Makefile)
set -euo pipefail
profile=${1:-release}
target=${CARGO_TARGET_DIR:?set CARGO_TARGET_DIR}
tauri=${TAURI_CLI:?set TAURI_CLI (make tauri-cli installs it)}
for bin in countersign countersign-desktop countersign-decode-worker; do
	[ -x "$target/$profile/$bin" ] || { echo "package: $target/$profile/$bin is not built" >&2; exit 1; }
done
flags=(--bundles deb)
[ "$profile" = debug ] && flags+=(--debug)
# The CLI's path is outside the clone (the target dir), so it is given here, not in tauri.conf.json.
config=$(printf '{"bundle":{"linux":{"deb":{"files":{"/usr/bin/countersign":"%s","/usr/bin/countersign-decode-worker":"%s"}}}}}' \
	"$target/$profile/countersign" "$target/$profile/countersign-decode-worker")
out="$target/$profile/bundle/deb"
rm -f "$out"/*.deb
(cd "$(dirname "$0")/../src-tauri" && "$tauri" bundle "${flags[@]}" --config "$config" >&2)
ls "$out"/*.deb
