#!/usr/bin/env bash
# Fetches the prebuilt LHC-Forms (npm "lforms") browser bundle that test/dtr/render.test.ts serves to
# headless Chromium, into build/lforms/ (git-ignored). Only the dist files are kept: the web
# component (lhc-forms.js = runtime + polyfills + main), its stylesheet and images, zone.js, and the
# FHIR R4 support library. `npm install lforms` is not used: it pulls the whole Angular toolchain.
#
# Usage: scripts/fetch-lforms.sh            (idempotent; re-fetches only when the pinned version changes)
set -euo pipefail

VERSION="40.1.3"
# sha256 of lforms-40.1.3.tgz as published on the npm registry.
SHA256="288cff4360e8a90a44e994a01422d2cf970170000ce915b5739ccc383097edd9"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/build/lforms"

if [[ -f "$DEST/VERSION" && "$(cat "$DEST/VERSION")" == "$VERSION" ]]; then
  echo "lforms $VERSION already in ${DEST#"$ROOT"/}"
  exit 0
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

(cd "$TMP" && npm pack "lforms@$VERSION" --silent >/dev/null)
TARBALL="$TMP/lforms-$VERSION.tgz"
echo "$SHA256  $TARBALL" | sha256sum --check --quiet

WC="package/dist/lforms/webcomponent"
tar -xzf "$TARBALL" -C "$TMP" \
  "$WC/lhc-forms.js" "$WC/styles.css" "$WC/assets/lib/zone.min.js" \
  "$WC/down_arrow_gray_10_10.png" "$WC/magnifying_glass.png" \
  "package/dist/lforms/fhir/R4/lformsFHIR.min.js" "package/LICENSE.md"

rm -rf "$DEST"
mkdir -p "$DEST"
cp -R "$TMP/package/dist/lforms/webcomponent" "$TMP/package/dist/lforms/fhir" "$DEST/"
cp "$TMP/package/LICENSE.md" "$DEST/LICENSE.md"
echo "$VERSION" > "$DEST/VERSION"
echo "lforms $VERSION fetched into ${DEST#"$ROOT"/}"
