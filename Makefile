# photon-bundle: the two set-up commands for a fresh machine are `make demo` and `make test`.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
EXAMPLE := examples/lambda-app
ENGINE_DIR := $(EXAMPLE)/node_modules/.prisma/client
# The example's stand-in engines: small real ELF files built from examples/engine-standin.c and
# named as Prisma names its engines (they stand in for Prisma's real ~20 MB engines).
EXAMPLE_TARGETS := rhel-openssl-3.0.x rhel-openssl-1.0.x debian-openssl-3.0.x linux-arm64-openssl-3.0.x

.PHONY: tools node-tools prisma-tarballs trace-app databases browser install demo test lint unit integration bench clean \
	example-engines wheel-check

# zip/unzip (Debian) are used by the demo, the benchmark and archive tests.
tools:
	@command -v unzip >/dev/null && command -v zip >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zip unzip >/dev/null; }

# pnpm, yarn 1, yarn berry and esbuild (with @esbuild/linux-x64) at pinned versions, from the npm registry into
# .tools/ (the layout and --bundler esbuild tests drive them offline; idempotent, quick when present).
node-tools:
	bash scripts/install-node-tools.sh

# The real prisma and @prisma/client 5.22.0 packed as tarballs into .tools/prisma/ (about 7 MB; no engine):
# the real-client test installs them offline with npm and generates with stand-in engines (idempotent).
prisma-tarballs:
	bash scripts/install-prisma-tarballs.sh

# The --trace tests' app (tests/fixtures/trace-app: express, lodash, aws-sdk v2, apollo, @prisma/client ...): its
# packages cached in an npm cache and a pnpm store under .tools/trace-app/ (the tests install offline from them),
# and @vercel/nft pinned in .tools/nft/ to compare the traced file set with (about 220 MB; idempotent).
trace-app: node-tools
	bash scripts/install-trace-app.sh

# PostgreSQL and MariaDB servers for the doctor's --check-database tests (the fixtures start them on 127.0.0.1).
databases:
	@{ command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } && \
	  command -v mariadb-install-db >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql mariadb-server >/dev/null; }

# Debian's chromium for the size report's browser test (headless, file:// URL, no network: tests/e2e/test_report_browser.py).
browser:
	@command -v chromium >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

install:
	$(PIP) install --quiet --disable-pip-version-check -e '.[test]'

example-engines: $(foreach t,$(EXAMPLE_TARGETS),$(ENGINE_DIR)/libquery_engine-$(t).so.node) \
	$(EXAMPLE)/node_modules/@prisma/engines/schema-engine-debian-openssl-3.0.x

$(ENGINE_DIR)/libquery_engine-%.so.node: examples/engine-standin.c
	gcc -shared -fPIC -O2 -DTARGET='"$*"' -o $@ $<

$(EXAMPLE)/node_modules/@prisma/engines/schema-engine-%: examples/engine-standin.c
	gcc -O2 -DTARGET='"schema-engine-$*"' -DWITH_MAIN -o $@ $<

# Bundle the example app for AWS Lambda (Node 20, Amazon Linux 2023), then prove the bundle loads in node.
demo: install tools example-engines
	photon-bundle lambda $(EXAMPLE) --out build/demo
	photon-bundle lambda $(EXAMPLE) --out build/demo-layer --format both
	rm -rf build/demo-unpacked && mkdir -p build/demo-unpacked && cd build/demo-unpacked && unzip -q ../demo/function.zip
	node -e "require('./build/demo-unpacked/src/handler.js').handler({}).then(r => console.log('handler says:', r.body))"

# photon-bundle installed from its wheel into a fresh venv (as `pip install .` and pipx do) bundles the demo.
wheel-check: tools example-engines
	PYTHON=$(PYTHON) bash scripts/wheel-check.sh

lint:
	ruff check .
	mypy

unit:
	$(PYTHON) -m pytest -q tests/unit

integration:
	$(PYTHON) -m pytest -q tests/integration tests/e2e

# Installs everything the tests need (Python deps; Debian's docker.io, docker-registry, busybox-static, zip,
# postgresql, mariadb-server, chromium; pnpm and yarn into .tools/; the real Prisma packages' tarballs into
# .tools/prisma/; the trace app's npm cache and pnpm store and @vercel/nft into .tools/), starts dockerd, lints,
# then runs every tier. pytest exits non-zero when no test ran.
test: install tools node-tools prisma-tarballs trace-app databases browser
	bash scripts/ensure-docker.sh
	$(MAKE) lint
	$(MAKE) wheel-check
	$(PYTHON) -m pytest -q -p no:cacheprovider tests

# The benchmark installs its real app once from benchmarks/realapp/package-lock.json (npm registry; tests never do)
# and generates its synthetic project and monorepos once, under benchmarks/.work/.
bench: install tools
	$(PYTHON) -m benchmarks.run

clean:
	rm -rf build .photon-bundle $(EXAMPLE)/.photon-bundle benchmarks/.work
	rm -f $(ENGINE_DIR)/libquery_engine-* $(EXAMPLE)/node_modules/@prisma/engines/schema-engine-*
