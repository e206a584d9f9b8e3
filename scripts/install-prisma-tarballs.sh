#!/usr/bin/env bash
# Packs the real Prisma 5.22.0 packages (the client, the CLI and what the CLI requires) from the npm registry
# into .tools/prisma/ (gitignored), so the real-client test installs them offline with npm. About 7 MB of
# tarballs; no engine is downloaded (the test generates with stand-in engines). Idempotent: a marker file is
# written only after a complete pack, so a second run costs nothing and an interrupted one is packed again.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS="${PHOTON_BUNDLE_TOOLS:-$PWD/.tools}"
DEST="$TOOLS/prisma"
VERSION=5.22.0
ENGINES_VERSION=5.22.0-44.605197351a3c8bdd595af2d2a9bc3025bca48ea2
marker="$DEST/.installed-$VERSION"
if [ -f "$marker" ]; then
  exit 0
fi
rm -rf "${DEST:?}"
mkdir -p "$DEST"
echo "packing prisma@$VERSION and @prisma/client@$VERSION into $DEST"
(cd "$DEST" && npm pack --silent "@prisma/client@$VERSION" "prisma@$VERSION" "@prisma/engines@$VERSION" \
  "@prisma/engines-version@$ENGINES_VERSION" "@prisma/debug@$VERSION" "@prisma/get-platform@$VERSION" \
  "@prisma/fetch-engine@$VERSION" >/dev/null)
touch "$marker"
