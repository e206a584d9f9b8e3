#!/usr/bin/env bash
# Prove that photon-bundle works installed from a wheel, as `pip install .` or pipx install it (no editable
# install, no checkout on the path): build the wheel, install it into a fresh venv (pip fetches the
# dependencies), then bundle the example app with the installed command, from another folder, and load the
# bundle in node. Run by `make wheel-check`, which `make test` runs.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
work="$root/build/wheel-check"
rm -rf "$work" && mkdir -p "$work/dist"
"$python" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$work/dist" "$root"
"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "$work"/dist/photon_bundle-*.whl
cd "$work"  # not the checkout: only the installed package can be imported
installed="$("$work/venv/bin/python" -c 'import bundler, platforms; print(bundler.__file__, platforms.__file__)')"
case "$installed" in
  "$work/venv/"*" $work/venv/"*) ;;
  *) echo "wheel-check: imported from $installed, not from the venv" >&2; exit 1 ;;
esac
export PHOTON_BUNDLE_CACHE="$work/engine-cache"
"$work/venv/bin/photon-bundle" lambda "$root/examples/lambda-app" --out "$work/out" --format both --offline --quiet \
  --report
grep -q 'id="report-data"' "$work/out/report.html"  # the report's script and style are installed (package data)
"$work/venv/bin/photon-bundle" targets >/dev/null
# --trace from the wheel: the tree-sitter query runs and bundler/trace/loaders.toml is installed (package data)
"$work/venv/bin/photon-bundle" lambda "$root/examples/lambda-app" --out "$work/out-trace" --offline --quiet --trace
unzip -l "$work/out-trace/function.zip" | grep -q 'node_modules/debug/src/index.js'
# doctor from the wheel: the tree-sitter grammars and platforms/databases.toml are installed (exit 0: warnings only)
"$work/venv/bin/photon-bundle" doctor "$root/examples/lambda-app" --platform lambda --out "$work/out" --json \
  --no-require-timing | grep -q '"placement"'
mkdir -p "$work/unpacked" && (cd "$work/unpacked" && unzip -q ../out/function.zip)
mkdir -p "$work/layer" && (cd "$work/layer" && unzip -q ../out/layer.zip)
test -x "$work/layer/photon-bundle/exec-wrapper"
PRISMA_QUERY_ENGINE_LIBRARY="$(ls "$work"/layer/photon-bundle/engines/*)" \
  node -e "require('$work/unpacked/src/handler.js').handler({}).then(r => console.log('wheel-check: handler says:', r.body))"
