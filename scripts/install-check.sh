#!/usr/bin/env bash
# Installs a Countersign `.deb` into a scratch root (`dpkg -x`: the package's files, as `apt
# install` would lay them out, without root and without touching the system) and checks what a
# desktop user and a packager would: both binaries run from /usr/bin, the desktop entry passes
# desktop-file-validate (desktop-file-utils, not ours) and names the installed binary and an
# installed icon, the control file names the WebKitGTK runtime it needs. Prints the root.
#
#   scripts/install-check.sh PACKAGE.deb ROOT
set -euo pipefail
deb=${1:?package}
root=${2:?scratch root}
fail() { echo "install-check: $*" >&2; exit 1; }
rm -rf "$root"
mkdir -p "$root"
dpkg-deb -x "$deb" "$root"
[ "$(dpkg-deb -f "$deb" Package)" = countersign ] || fail "package name is $(dpkg-deb -f "$deb" Package)"
dpkg-deb -f "$deb" Depends | grep -q 'libwebkit2gtk-4.1-0' || fail "Depends lacks libwebkit2gtk-4.1-0: $(dpkg-deb -f "$deb" Depends)"
for bin in countersign countersign-desktop countersign-decode-worker; do
	[ -x "$root/usr/bin/$bin" ] || fail "/usr/bin/$bin is not in the package"
done
"$root/usr/bin/countersign" --version >/dev/null || fail "the installed CLI does not run"
# The worker answers its hello, confined, and ends at the end of its input.
"$root/usr/bin/countersign-decode-worker" --countersign-decode-worker </dev/null \
	| grep -q '"hello":"countersign-decode-worker/' || fail "the installed decode worker does not start"
entries=("$root"/usr/share/applications/*.desktop)
[ "${#entries[@]}" = 1 ] && [ -f "${entries[0]}" ] || fail "expected one desktop entry, found: ${entries[*]}"
desktop-file-validate "${entries[0]}" || fail "desktop-file-validate refused ${entries[0]}"
grep -qx 'Exec=countersign-desktop' "${entries[0]}" || fail "the entry does not run countersign-desktop: $(grep '^Exec=' "${entries[0]}")"
icon=$(sed -n 's/^Icon=//p' "${entries[0]}")
ls "$root"/usr/share/icons/hicolor/*/apps/"$icon".png >/dev/null 2>&1 || fail "no installed icon named $icon"
echo "$root"
