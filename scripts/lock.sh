#!/usr/bin/env bash
# Regenerates package-lock.json so that `npm ci` accepts it on any machine.
# npm 11, resolving next to an installed node_modules, records only this platform's optional
# packages (jest's @unrs/resolver-binding-*), and `npm ci` elsewhere then refuses the lock file.
# Resolving in a folder without node_modules records every platform's, at the locked versions.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp package.json package-lock.json "$tmp"/
(cd "$tmp" && npm install --package-lock-only --ignore-scripts --no-audit --no-fund >/dev/null)
(cd "$tmp" && npm ci --dry-run --ignore-scripts --no-audit --no-fund >/dev/null)
cp "$tmp"/package-lock.json package-lock.json
echo "package-lock.json regenerated; npm ci accepts it"
