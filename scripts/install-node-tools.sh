#!/usr/bin/env bash
# Installs the package managers the layout tests drive (pnpm, yarn 1, yarn berry) at pinned versions from
# the npm registry into .tools/ (gitignored). Idempotent: a tool already at its pinned version is kept, so a
# second run costs three `node -p` calls. Corepack and yarn's own download servers are not used.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS="${PHOTON_BUNDLE_TOOLS:-$PWD/.tools}"
# folder  package  version
PINNED=(
  "pnpm pnpm 9.15.9"
  "yarn1 yarn 1.22.22"
  "berry @yarnpkg/cli-dist 4.18.1"
)
for line in "${PINNED[@]}"; do
  read -r dir package version <<<"$line"
  manifest="$TOOLS/$dir/node_modules/$package/package.json"
  if [ -f "$manifest" ] && [ "$(node -p "require('$manifest').version")" = "$version" ]; then
    continue
  fi
  mkdir -p "$TOOLS/$dir"
  echo "installing $package@$version into $TOOLS/$dir"
  npm install --silent --no-audit --no-fund --no-save --prefix "$TOOLS/$dir" "$package@$version"
done
