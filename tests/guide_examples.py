"""The deployment guide's example projects as they were in Dec 2019 - Feb 2020 (prisma/prisma-examples, prisma2
branch, deployment-platforms/{google-cloud-functions,netlify,serverless,up,zeit-now} at 1fb5dcf2a,
"Update dependency prisma2 to v2.0.0-preview022"), after `npm install` and `prisma2 generate`.

Their files (package.json, schema.prisma, netlify.toml, now.json, serverless.yml, up.json, deploy.sh,
.gcloudignore, .upignore, the handlers) follow the originals; node_modules holds small stand-ins in the
layout of @prisma/photon 2.0.0-preview019 (the generated client in the package itself: index.js,
schema.prisma, runtime/index.js and the binary engines `runtime/query-engine-<target>`), the stub that
@prisma/photon ships before generation, the prisma2 CLI (its package.json carries the engine commit as
`prisma.version`, and it holds an engine of its own that must never be bundled), and express 4.21's
`"main": false` dependencies (math-intrinsics, dunder-proto). Engines are static ELF files built by gcc.

The stand-in Photon runtime behaves like the real one (runtime/index.js of preview019): it reads
`../schema.prisma` and spawns `<runtime>/query-engine-<platform>`, where the platform is what get-platform
would say on the function's machine (the tests set PHOTON_TEST_PLATFORM to the runtime's target).
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.projects import _static_engine, add_package, write_json

PHOTON_VERSION = "2.0.0-preview019"
PRISMA2_VERSION = "2.0.0-preview022"
ENGINE_COMMIT = "e7579bd35e0938dbf773f1706c098a0d14a5a038"  # prisma2@2.0.0-preview019 package.json prisma.version
DEV_TARGET = "darwin"  # the examples were generated on a Mac: `native` is darwin

PHOTON_RUNTIME = """\
// Stand-in for @prisma/photon's runtime/index.js (2.0.0-preview019): the engine is
// path.join(__dirname, `query-engine-${platform}`) and the datamodel ../schema.prisma.
'use strict';
const fs = require('fs');
const path = require('path');
class Photon {
  constructor() {
    fs.readFileSync(path.join(__dirname, '..', 'schema.prisma'));
    const platform = process.env.PHOTON_TEST_PLATFORM;
    const enginePath = process.env.PRISMA_QUERY_ENGINE_BINARY || path.join(__dirname, `query-engine-${platform}`);
    if (!fs.existsSync(enginePath)) {
      throw new Error(`Query engine binary for current platform "${platform}" could not be found. ` +
        `Photon looked in ${enginePath}`);
    }
    if ((fs.statSync(enginePath).mode & 0o111) === 0) throw new Error('EACCES: ' + enginePath);
    this.enginePath = enginePath;
  }
  async users() { return [{ engine: this.enginePath }]; }
}
module.exports = { Photon };
"""

PHOTON_STUB = """\
class Photon {
  constructor() {
    throw new Error(
      `@prisma/photon did not initialize yet. Please run "prisma2 generate" and try to import it again.`,
    )
  }
}

module.exports = {
  Photon,
}
"""

SCHEMA_HEAD = """\
datasource db {
  provider = "postgresql"
  // Like, postgresql://user:password@localhost:5432/database/schema
  url      = env("POSTGRESQL_URL")
}

"""
MODELS = """
model User {
  id    String  @default(cuid()) @id
  email String  @unique
  name  String?
  posts Post[]
}

model Post {
  id        String   @default(cuid()) @id
  title     String
  author    User?
}
"""


def schema(*, targets: tuple[str, ...] = (), output: str | None = None) -> str:
    lines = ['  provider      = "photonjs"']
    if targets:
        lines.append(f"  binaryTargets = [{', '.join(json.dumps(t) for t in targets)}]")
    if output:
        lines.append(f'  output        = "{output}"')
    return SCHEMA_HEAD + "generator photon {\n" + "\n".join(lines) + "\n}\n" + MODELS


def generated_photon(folder: Path, schema_text: str, targets: tuple[str, ...], elf_cache: Path, *,
                     header: bool = True, package_json: bool = True) -> Path:
    """What `prisma2 generate` writes: index.js (with the engine commit in its header), schema.prisma,
    runtime/index.js and one `runtime/query-engine-<target>` per binaryTarget (native = darwin here)."""
    folder.mkdir(parents=True, exist_ok=True)
    if package_json:  # generated into node_modules/@prisma/photon: the package's own package.json stays
        write_json(folder / "package.json", {"name": "@prisma/photon", "version": PHOTON_VERSION, "main": "index.js",
                                             "types": "index.d.ts", "prisma": {"version": "latest"}})
    head = f"/**\n * Query Engine version: {ENGINE_COMMIT}\n */\n" if header else ""
    (folder / "index.js").write_text(head + "module.exports = require('./runtime');\n")
    (folder / "index.d.ts").write_text("export declare class Photon {}\n")
    (folder / "schema.prisma").write_text(schema_text)
    (folder / "runtime").mkdir(exist_ok=True)
    (folder / "runtime" / "index.js").write_text(PHOTON_RUNTIME)
    for target in ("native", *targets):
        name = DEV_TARGET if target == "native" else target
        _static_engine(folder / "runtime" / f"query-engine-{name}", marker=f"photon-preview-{name}", cache=elf_cache)
    return folder


def photon_stub(root: Path) -> Path:
    folder = root / "node_modules" / "@prisma" / "photon"
    write_json(folder / "package.json", {"name": "@prisma/photon", "version": PHOTON_VERSION, "main": "index.js",
                                         "prisma": {"version": "latest"}})
    (folder / "index.js").write_text(PHOTON_STUB)
    (folder / "scripts").mkdir(exist_ok=True)
    (folder / "scripts" / "postinstall.js").write_text("// runs `prisma2 generate`\n")
    return folder


def prisma2_cli(root: Path, elf_cache: Path, rel: str = "node_modules/prisma2") -> None:
    cli = root / rel
    write_json(cli / "package.json", {"name": "prisma2", "version": PRISMA2_VERSION, "main": "build/index.js",
                                      "bin": {"prisma2": "build/index.js"}, "prisma": {"version": ENGINE_COMMIT}})
    (cli / "build").mkdir(parents=True, exist_ok=True)
    (cli / "build" / "index.js").write_text("// the prisma2 CLI\n" * 50)
    # The CLI downloads the engines it runs itself: never the client's engine.
    for target in ("rhel-openssl-1.0.x", "debian-openssl-1.1.x"):
        _static_engine(cli / f"query-engine-{target}", marker=f"prisma2-cli-{target}", cache=elf_cache)


def express_421(root: Path, nm: str = "node_modules") -> None:
    """express with the shape of 4.21's tree where it matters: get-intrinsic loads `math-intrinsics/abs` and
    `dunder-proto/get`, packages whose package.json says `"main": false` and only `exports`."""
    add_package(root, f"{nm}/express", "express", "4.21.2", {"get-intrinsic": "^1.2.7"}, files={"index.js": """\
'use strict';
const http = require('http');
require('get-intrinsic');
module.exports = function express() {
  const routes = [];
  const app = (req, res) => { const r = routes[0]; if (r) r(req, res); else res.end(); };
  app.use = () => app;
  app.get = (path, fn) => { routes.push((req, res) => fn(req, Object.assign(res, {
    send: (b) => res.end(String(b)), set: () => res, status: () => res }))); return app; };
  app.listen = (...args) => http.createServer(app).listen(...args);
  return app;
};
"""})
    add_package(root, f"{nm}/get-intrinsic", "get-intrinsic", "1.3.0",
                {"math-intrinsics": "^1.1.0", "dunder-proto": "^1.0.1"}, files={"index.js": """\
'use strict';
var abs = require('math-intrinsics/abs');
var getProto = require('dunder-proto/get');
module.exports = function GetIntrinsic() { return abs(-1) === 1 && typeof getProto === 'function'; };
"""})
    for name, version, exports in (("math-intrinsics", "1.1.0", {"abs": "module.exports = Math.abs;\n"}),
                                   ("dunder-proto", "1.0.1",
                                    {"get": "module.exports = function (o) { return Object.getPrototypeOf(o); };\n",
                                     "set": "module.exports = function () { return false; };\n"})):
        folder = root / nm / name
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / "package.json", {
            "name": name, "version": version, "main": False,
            "exports": {**{f"./{e}": f"./{e}.js" for e in exports}, "./package.json": "./package.json"}})
        for e, text in exports.items():
            (folder / f"{e}.js").write_text(text)


def _package_json(root: Path, data: dict[str, object]) -> None:
    write_json(root / "package.json", data)
    (root / "package-lock.json").write_text('{"lockfileVersion": 1}\n')


# ------------------------------------------------------------------------------------------------ the five


def gcf_example(root: Path, elf_cache: Path) -> Path:
    """google-cloud-functions: deploy.sh says --runtime nodejs10; the schema has no binaryTargets, so only the
    developer's darwin engine is on disk; the engine commit is in node_modules/prisma2/package.json."""
    _package_json(root, {"name": "gcp", "version": "1.0.0", "main": "index.js", "license": "MIT",
                         "scripts": {"start": "functions-framework --target=photonExample", "deploy": "sh deploy.sh",
                                     "logs": "gcloud functions logs read photonExample"},
                         "dependencies": {"@prisma/photon": "^2.0.0-preview017", "prisma2": PRISMA2_VERSION},
                         "devDependencies": {"@google-cloud/functions-framework": "1.4.0"}})
    (root / "deploy.sh").write_text(
        "source .env.production\ngcloud functions deploy photonExample --stage-bucket $BUCKET --trigger-http "
        "--runtime nodejs10 --set-env-vars POSTGRESQL_URL=$POSTGRESQL_URL --set-env-vars DEBUG=true")
    (root / ".gcloudignore").write_text(".gcloudignore\n.git\n.gitignore\n\nnode_modules/")
    (root / ".gitignore").write_text(".env\n.env.production\n.env.yaml")
    (root / "index.js").write_text("""\
const { Photon } = require('@prisma/photon')

const photon = new Photon()
exports.photonExample = async function helloWorld(req, res) {
  const users = await photon.users()
  res.status(200).send(JSON.stringify(users))
}
""")
    text = schema()
    (root / "prisma").mkdir(parents=True, exist_ok=True)
    (root / "prisma" / "schema.prisma").write_text(text)
    generated_photon(root / "node_modules" / "@prisma" / "photon", text, (), elf_cache, header=False)
    prisma2_cli(root, elf_cache)
    add_package(root, "node_modules/@google-cloud/functions-framework", "@google-cloud/functions-framework", "1.4.0")
    return root


def netlify_example(root: Path, elf_cache: Path) -> Path:
    """netlify: the client generated to functions/generated/photon with binaryTargets native and
    rhel-openssl-1.0.x; @prisma/photon in node_modules stays the stub; netlify.toml names only the folder."""
    _package_json(root, {"name": "netlify", "version": "1.0.0", "main": "index.js", "license": "MIT",
                         "devDependencies": {"@types/node": "12.12.27", "netlify-cli": "2.32.0",
                                             "netlify-lambda": "1.6.3", "prisma2": PRISMA2_VERSION},
                         "scripts": {"dev": " netlify dev", "deploy": "./build.sh"},
                         "dependencies": {"@prisma/photon": "^2.0.0-preview017"}})
    (root / "netlify.toml").write_text('[build]\nfunctions = "functions/"\n')
    (root / "build.sh").write_text("#!/bin/bash\n\nset -e\n\nrm -rf functions-build\nmkdir -p functions-build\n")
    (root / "index.html").write_text("<h1>netlify</h1>\n")
    (root / "functions").mkdir(parents=True, exist_ok=True)
    (root / "functions" / "index.js").write_text("""\
const { Photon } = require('./generated/photon')

const photon = new Photon()

exports.handler = async function(event, context, callback) {
  const users = await photon.users()
  return {
    statusCode: 200,
    body: JSON.stringify(users),
    headers: {
      'Access-Control-Allow-Origin': '*',
    },
  }
}
""")
    text = schema(targets=("native", "rhel-openssl-1.0.x"), output="../functions/generated/photon")
    (root / "prisma").mkdir(exist_ok=True)
    (root / "prisma" / "schema.prisma").write_text(text)
    generated_photon(root / "functions" / "generated" / "photon", text, ("rhel-openssl-1.0.x",), elf_cache,
                     package_json=False)
    photon_stub(root)
    prisma2_cli(root, elf_cache)
    return root


def serverless_example(root: Path, elf_cache: Path) -> Path:
    _package_json(root, {"name": "p2-bins", "version": "1.0.0", "main": "index.js", "license": "MIT",
                         "dependencies": {"@prisma/photon": "^2.0.0-preview017", "serverless-dotenv-plugin": "^2.1.1",
                                          "serverless-offline": "^5.8.0"},
                         "scripts": {"dev": "sls offline", "deploy": "NODE_ENV=production sls deploy"},
                         "devDependencies": {"prisma2": PRISMA2_VERSION}})
    (root / "serverless.yml").write_text("""\
service: p2-bins

provider:
  name: aws
  runtime: nodejs10.x
  region: eu-west-1

plugins:
  - serverless-dotenv-plugin
  - serverless-offline

functions:
  server:
    handler: server.handler
    events:
      - http: GET /
    timeout: 60
    environment:
      POSTGRESQL_URL: ${env:POSTGRESQL_URL}
""")
    (root / "server.js").write_text("""\
//@ts-strict
const { Photon } = require('@prisma/photon')

const photon = new Photon()

module.exports.handler = async event => {
  if (event.httpMethod === 'GET') {
    const users = await photon.users()
    return { statusCode: 200, headers: { 'Content-Type': 'text/html' }, body: JSON.stringify(users) }
  }
  throw new Error('Method not allowed')
}
""")
    text = schema(targets=("native", "rhel-openssl-1.0.x"))
    (root / "prisma").mkdir(parents=True, exist_ok=True)
    (root / "prisma" / "schema.prisma").write_text(text)
    generated_photon(root / "node_modules" / "@prisma" / "photon", text, ("rhel-openssl-1.0.x",), elf_cache)
    add_package(root, "node_modules/serverless-dotenv-plugin", "serverless-dotenv-plugin", "2.1.1")
    add_package(root, "node_modules/serverless-offline", "serverless-offline", "5.12.1")
    prisma2_cli(root, elf_cache)
    return root


def up_example(root: Path, elf_cache: Path) -> Path:
    """up: up.json without lambda.runtime (up's default nodejs10.x), .upignore leaving the darwin engine out,
    express with its `"main": false` dependencies."""
    _package_json(root, {"name": "up", "version": "1.0.0", "main": "index.js", "license": "MIT",
                         "devDependencies": {"prisma2": PRISMA2_VERSION},
                         "scripts": {"start": "node app.js", "deploy": "up"},
                         "dependencies": {"@prisma/photon": "^2.0.0-preview017", "express": "^4.17.1"}})
    (root / "up.json").write_text('{\n  "name": "photon-app",\n  "lambda": {\n    "memory": 512\n  }\n}\n')
    (root / ".upignore").write_text("node_modules/@prisma/photon/runtime/query-engine-darwin")
    (root / ".gitignore").write_text(".env\n.env*")
    # The original listens on PORT on every interface; the tests' copy binds 127.0.0.1 (no test opens more).
    (root / "app.js").write_text("""\
//@ts-strict
const { Photon } = require('@prisma/photon')
const express = require('express')

const { PORT = 3000 } = process.env

const app = new express()
const photon = new Photon()

app.get('/', async (request, response) => {
  const users = await photon.users()
  return response.send(JSON.stringify(users))
})

const server = app.listen(PORT, '127.0.0.1', () => {
  console.log(`Started server on ${server.address().port}`)
  if (process.env.EXIT_WHEN_LISTENING) server.close()
})
""")
    text = schema(targets=("native", "rhel-openssl-1.0.x"))
    (root / "prisma").mkdir(parents=True, exist_ok=True)
    (root / "prisma" / "schema.prisma").write_text(text)
    generated_photon(root / "node_modules" / "@prisma" / "photon", text, ("rhel-openssl-1.0.x",), elf_cache)
    express_421(root)
    prisma2_cli(root, elf_cache)
    return root


def zeit_now_example(root: Path, elf_cache: Path) -> Path:
    """zeit-now: zero config (now.json version 2 without builds), api/index.js with its own package.json
    (engines.node 10.x, express, helmet, moment) and prisma/ folder, public/ static; @prisma/photon installed
    and generated at the root with the developer's native engine only."""
    _package_json(root, {"dependencies": {"@prisma/photon": PHOTON_VERSION}})
    (root / "now.json").write_text('{\n  "version": 2,\n  "name": "express-photon",\n  "env": {\n'
                                   '    "POSTGRESQL_URL": "@postgresql_url"\n  }\n}\n')
    (root / ".gitignore").write_text(".env")
    (root / "public").mkdir(parents=True, exist_ok=True)
    (root / "public" / "index.html").write_text("<h1>photon</h1>\n")
    (root / "public" / "style.css").write_text("h1 { color: teal }\n")
    api = root / "api"
    (api / "prisma").mkdir(parents=True, exist_ok=True)
    write_json(api / "package.json", {"dependencies": {"express": "4.17.1", "helmet": "3.21.2", "moment": "2.24.0"},
                                      "engines": {"node": "10.x"}, "scripts": {},
                                      "devDependencies": {"prisma2": PRISMA2_VERSION}})
    (api / "index.js").write_text("""\
//@ts-check
const { Photon } = require('@prisma/photon')
const express = require('express')
const helmet = require('helmet')
const moment = require('moment')

const photon = new Photon()

const app = express()
app.use(helmet())

app.get('*', async (req, res) => {
  const currentTime = moment().format('MMMM Do YYYY, h:mm:ss a')
  let users = await photon.users()
  res.set('Access-Control-Allow-Origin', '*')
  res.status(200).send(`${JSON.stringify(users)} - ${currentTime}`)
})

module.exports = app
""")
    text = schema()
    (api / "prisma" / "schema.prisma").write_text(text)
    generated_photon(root / "node_modules" / "@prisma" / "photon", text, (), elf_cache)
    express_421(root, "api/node_modules")
    add_package(root, "api/node_modules/helmet", "helmet", "3.21.2", files={
        "index.js": "module.exports = () => (req, res, next) => next && next();\n"})
    add_package(root, "api/node_modules/moment", "moment", "2.24.0", files={
        "moment.js": "module.exports = () => ({ format: () => 'now' });\n"})
    moment_pkg = json.loads((api / "node_modules" / "moment" / "package.json").read_text())
    write_json(api / "node_modules" / "moment" / "package.json", {**moment_pkg, "main": "./moment.js"})
    prisma2_cli(root, elf_cache, "api/node_modules/prisma2")
    return root
