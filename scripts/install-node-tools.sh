#!/usr/bin/env bash
# Installs the package managers the layout tests drive (pnpm, yarn 1, yarn berry) and the bundler the
# --bundler/--prebuilt tests drive (esbuild, with its platform binary package @esbuild/linux-x64 that npm
# installs as its optional dependency) at pinned versions from the npm registry into .tools/ (gitignored).
# Idempotent: a tool whose install completed is kept (a marker file), so a second run costs nothing.
# Corepack and yarn's own download servers are not used.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS="${PHOTON_BUNDLE_TOOLS:-$PWD/.tools}"
# folder  package  version
PINNED=(
  "pnpm pnpm 9.15.9"
  "yarn1 yarn 1.22.22"
  "berry @yarnpkg/cli-dist 4.18.1"
  "esbuild esbuild 0.24.0"
)
for line in "${PINNED[@]}"; do
  read -r dir package version <<<"$line"
  # the marker is written only after a complete install: an interrupted one is installed again
  marker="$TOOLS/$dir/.installed-$version"
  if [ -f "$marker" ]; then
    continue
  fi
  rm -rf "${TOOLS:?}/$dir"
  mkdir -p "$TOOLS/$dir"
  echo "installing $package@$version into $TOOLS/$dir"
  npm install --silent --no-audit --no-fund --no-save --prefix "$TOOLS/$dir" "$package@$version"
  touch "$marker"
done
