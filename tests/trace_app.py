"""A realistic multi-dependency Lambda app for the --trace tests, installed by the REAL npm or pnpm, offline.

tests/fixtures/trace-app pins express, lodash, aws-sdk v2, @apollo/server, graphql, uuid, zod, @prisma/client and
prisma (package-lock.json and pnpm-lock.yaml). `make test` fills an npm cache and a pnpm store with them under
.tools/trace-app/ (scripts/install-trace-app.sh); here npm (`npm ci --offline --cache`) or pnpm (`pnpm install
--offline --store-dir`) installs them from there with the registry unreachable, and the real prisma CLI generates
the client offline with stand-in engines (tests/real_prisma.py). @vercel/nft comes from .tools/nft/.

The Lambda handler (src/handler.js) uses express, lodash, aws-sdk's S3 client, graphql, uuid, zod and the Prisma
client through its own modules; src/graphql.js (another function, on @apollo/server) is not loaded by it.
src/lib/i18n.js loads its locale with a computed require whose literal parts make a glob, src/lib/receipt.js reads a
template at a path built from __dirname (both traced), and src/lib/format.js loads a plugin named by configuration,
which no tracer can see: --include adds it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.layouts import TOOLS, tool
from tests.real_prisma import SCHEMA_HEAD, generate_client, generate_env

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "trace-app"
CACHE = TOOLS / "trace-app"
NFT = TOOLS / "nft" / "node_modules" / "@vercel" / "nft"

SCHEMA = SCHEMA_HEAD + """
model Order {
  id        String   @id
  customer  String
  total     Int
  createdAt DateTime @default(now())
}
"""

SOURCES = {
    "src/handler.js": """\
const express = require('express');
const { graphql, buildSchema } = require('graphql');
const { v4: uuid } = require('uuid');
const { prisma } = require('./db');
const { summarize } = require('./lib/summary');
const { archive } = require('./lib/storage');
const { greeting } = require('./lib/i18n');
const { OrderInput } = require('./lib/validate');
const { receipt } = require('./lib/receipt');
const { format } = require('./lib/format');

const app = express();
app.get('/orders', (req, res) => res.json([]));
const schema = buildSchema('type Query { hello: String }');

exports.handler = async (event = {}) => {
  const input = OrderInput.safeParse(event.order || { customer: 'ada', total: 3 });
  const hello = greeting(event.lang || 'en');
  const answer = await graphql({ schema, source: '{ hello }', rootValue: { hello: () => 'world' } });
  return {
    statusCode: 200,
    body: JSON.stringify({
      id: uuid().length, ok: input.success, hello, gql: answer.data.hello, summary: summarize([1, 2, 3]),
      routes: app._router.stack.length, storage: typeof archive, client: typeof prisma.order.findMany,
      receipt: receipt('42'), formatted: format({ total: 3 }),
    }),
  };
};
""",
    "src/db.js": """\
const { PrismaClient } = require('@prisma/client');
exports.prisma = new PrismaClient();
""",
    "src/lib/summary.js": """\
const _ = require('lodash');
exports.summarize = (xs) => ({ sum: _.sum(xs), max: _.max(xs) });
""",
    "src/lib/storage.js": """\
const S3 = require('aws-sdk/clients/s3');
const s3 = new S3({ region: 'eu-west-1' });
exports.archive = (key, body) => s3.putObject({ Bucket: 'orders', Key: key, Body: body }).promise();
""",
    "src/lib/i18n.js": """\
exports.greeting = (lang) => {
  const strings = require('../locales/' + lang + '.json');
  return strings.hello;
};
""",
    "src/lib/validate.js": """\
const { z } = require('zod');
exports.OrderInput = z.object({ customer: z.string(), total: z.number().int() });
""",
    "src/lib/receipt.js": """\
const fs = require('fs');
const path = require('path');
const TEMPLATE = path.join(__dirname, '../templates/receipt.txt');
exports.receipt = (id) => fs.readFileSync(TEMPLATE, 'utf8').trim().replace('{id}', id);
""",
    "src/lib/format.js": """\
// the formatter is a plugin named by configuration only (ORDERS_FORMATTER=./format-json): no tracer can know it
exports.format = (order) => require(process.env.ORDERS_FORMATTER)(order);
""",
    "src/lib/format-json.js": "module.exports = (order) => JSON.stringify(order);\n",
    "src/templates/receipt.txt": "receipt {id}\n",
    "src/locales/en.json": '{ "hello": "hello" }\n',
    "src/locales/de.json": '{ "hello": "hallo" }\n',
    "src/graphql.js": """\
const { ApolloServer } = require('@apollo/server');
exports.server = new ApolloServer({ typeDefs: 'type Query { hello: String }', resolvers: {} });
""",
}
HANDLER = "src/handler.handler"
EXPANDED_REQUIRE = "src/lib/i18n.js:2"  # '../locales/' + lang + '.json': its glob's files ship
PLUGIN_REQUIRE = "src/lib/format.js:2"  # require(process.env.ORDERS_FORMATTER): what --include adds
PLUGIN = "src/lib/format-json.js"
PLUGIN_ENV = {"ORDERS_FORMATTER": "./format-json"}  # the function's configuration


def missing_reason(manager: str = "npm") -> str | None:
    """Why the app cannot be installed here, or None."""
    if not any(CACHE.glob(".installed-*")):
        return f"the trace app's packages are not cached in {CACHE} (run `make trace-app`, part of `make test`)"
    if not (NFT / "package.json").is_file():
        return f"@vercel/nft is not installed in {NFT.parent.parent} (run `make trace-app`, part of `make test`)"
    if manager == "pnpm" and tool("pnpm") is None:
        return "pnpm is not installed in .tools/ (run `make node-tools`)"
    for exe in ("node", "npm", "gcc"):
        if shutil.which(exe) is None:
            return f"needs {exe}"
    return None


def make_trace_app(root: Path, manager: str = "npm") -> Path:
    """The app installed offline by npm or pnpm, its Prisma client generated by the real CLI."""
    project = root / "app"
    project.mkdir(parents=True)
    lock = "pnpm-lock.yaml" if manager == "pnpm" else "package-lock.json"
    for name in ("package.json", lock):
        shutil.copy(FIXTURE / name, project / name)
    for rel, text in SOURCES.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text)
    (project / "prisma").mkdir()
    (project / "prisma" / "schema.prisma").write_text(SCHEMA)
    env = generate_env(root / "home")
    if manager == "pnpm":
        pnpm = tool("pnpm")
        assert pnpm is not None
        argv = [*pnpm.argv, "install", "--offline", "--frozen-lockfile", "--ignore-scripts",
                "--store-dir", str(CACHE / "pnpm-store")]
    else:
        argv = ["npm", "ci", "--offline", "--ignore-scripts", "--no-audit", "--no-fund",
                "--cache", str(CACHE / "npm-cache")]
    done = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    generate_client(project, env)
    return project


NFT_SCRIPT = """\
const { nodeFileTrace } = require(process.argv[1]);
nodeFileTrace([process.argv[3]], { base: process.argv[2] })
  .then((r) => console.log(JSON.stringify([...r.fileList].sort())));
"""


def nft_files(project: Path, entry: str) -> list[str]:
    """The files @vercel/nft traces from `entry`, relative to the project (real paths: pnpm's store included)."""
    done = subprocess.run(["node", "-e", NFT_SCRIPT, str(NFT), str(project), str(project / entry)], cwd=project,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    files: list[str] = json.loads(done.stdout)
    return files
