#!/usr/bin/env bash
# sms-pki --version prints the tree's one version as every program does
# ("sms-pki (sms) <VERSION>"): from ../VERSION in the tree, from the line
# `make install` fills in when installed (tests/packaging/deb.t checks the
# packaged copy). A copy that has neither says so in one line.
set -u
# shellcheck source=tests/harness/harness.sh
source "$(dirname "$0")/../harness/harness.sh"
harness_init

V=$(cat "$H_ROOT/VERSION")
tap_is "$("$H_ROOT/pki/sms-pki" --version)" "sms-pki (sms) $V" "in the tree: sms-pki (sms) <VERSION>"
ln -s "$H_ROOT/pki/sms-pki" "$H_DIR/sms-pki-link"
tap_is "$("$H_DIR/sms-pki-link" --version)" "sms-pki (sms) $V" "through a symbolic link: still the tree's VERSION"

# The installed form: make install into a staging root from the built tree
# (-o all: nothing is rebuilt here), then moved away from any VERSION file.
mkdir -p "$H_DIR/prefix/bin"
REL=${SMS_RELEASE:-$H_ROOT/build/release}
if [ -x "$REL/bin/smscms" ]; then
	if out=$(make -C "$H_ROOT" -s -o all install B="$REL" PREFIX=/usr DESTDIR="$H_DIR/stage" 2>&1); then
		tap_ok "make install stages the tree"
	else tap_not_ok "make install stages the tree"; sed 's/^/#   /' <<<"$out" | tail -n 5; fi
	tap_is "$(grep -cx "INSTALLED_VERSION=$V" "$H_DIR/stage/usr/bin/sms-pki")" 1 "the installed sms-pki has its version line"
	mv "$H_DIR/stage/usr/bin/sms-pki" "$H_DIR/prefix/bin/sms-pki"
	tap_is "$("$H_DIR/prefix/bin/sms-pki" --version)" "sms-pki (sms) $V" \
		"installed (no VERSION file beside it): sms-pki (sms) <VERSION>"
else
	tap_ok "installed sms-pki --version # SKIP no release build (make B=build/release all)"
fi

cp "$H_ROOT/pki/sms-pki" "$H_DIR/prefix/bin/sms-pki-raw"
out=$("$H_DIR/prefix/bin/sms-pki-raw" --version 2>&1); rc=$?
tap_is "$rc:$(wc -l <<<"$out")" "1:1" "a copy neither in the tree nor installed: exit 1, one line"
grep -qF "$H_DIR/prefix/bin/../VERSION" <<<"$out" && tap_ok "that line names the file it could not read" ||
	tap_not_ok "that line names the file it could not read: $out"
tap_done
