#!/usr/bin/env bash
# Prepares the --trace tests (tests/integration/test_trace.py): fills an npm cache and a pnpm store under
# .tools/trace-app/ with the packages of tests/fixtures/trace-app (express, lodash, aws-sdk v2, apollo, graphql,
# uuid, zod, @prisma/client and prisma, at the versions its lockfiles pin), so the tests install the app with the
# real npm and pnpm --offline; and installs @vercel/nft at a pinned version into .tools/nft/ (the tests compare
# the traced file set with it). Needs .tools/pnpm (scripts/install-node-tools.sh). Idempotent: the marker names
# the lockfiles' hash, so a second run costs nothing and a changed lockfile is installed again.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS="${PHOTON_BUNDLE_TOOLS:-$PWD/.tools}"
FIXTURE="$PWD/tests/fixtures/trace-app"
NFT_VERSION=0.29.4
PNPM="$TOOLS/pnpm/node_modules/pnpm/bin/pnpm.cjs"

nft_marker="$TOOLS/nft/.installed-$NFT_VERSION"
if [ ! -f "$nft_marker" ]; then
  rm -rf "${TOOLS:?}/nft"
  mkdir -p "$TOOLS/nft"
  echo "installing @vercel/nft@$NFT_VERSION into $TOOLS/nft"
  npm install --silent --no-audit --no-fund --no-save --prefix "$TOOLS/nft" "@vercel/nft@$NFT_VERSION"
  touch "$nft_marker"
fi

DEST="$TOOLS/trace-app"
hash=$(cat "$FIXTURE/package.json" "$FIXTURE/package-lock.json" "$FIXTURE/pnpm-lock.yaml" | sha256sum | cut -c1-16)
marker="$DEST/.installed-$hash"
if [ -f "$marker" ]; then
  exit 0
fi
[ -f "$PNPM" ] || { echo "install-trace-app: $PNPM is missing: run scripts/install-node-tools.sh first" >&2; exit 1; }
rm -rf "${DEST:?}"
mkdir -p "$DEST/npm" "$DEST/pnpm"
echo "caching the trace-app's packages (npm cache and pnpm store) in $DEST"
cp "$FIXTURE/package.json" "$FIXTURE/package-lock.json" "$DEST/npm/"
(cd "$DEST/npm" && npm ci --silent --ignore-scripts --no-audit --no-fund --cache "$DEST/npm-cache")
cp "$FIXTURE/package.json" "$FIXTURE/pnpm-lock.yaml" "$DEST/pnpm/"
(cd "$DEST/pnpm" && node "$PNPM" install --silent --frozen-lockfile --ignore-scripts --store-dir "$DEST/pnpm-store" \
  --config.confirmModulesPurge=false)
rm -rf "$DEST/npm" "$DEST/pnpm"  # the tests install their own copies, offline, from the cache and the store
touch "$marker"
