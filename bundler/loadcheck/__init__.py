"""The load check: prove that each unit's artifacts load before anything is renamed into place.

For one unit (bundler/bundle.py calls `load_check` after verify, before commit) the artifacts are unpacked
as the platform lays them out: the function zip at a task root (Lambda's /var/task, GCF's /workspace), a
layer under a stand-in /opt, with the variable its exec wrapper sets (the wrapper itself runs node) and
NODE_PATH as Lambda sets it (/opt/nodejs/nodeNN/node_modules, /opt/nodejs/node_modules, the task root).
For GCF's source zip the project's installed production packages stand in for the cloud's `npm install`
(no generated client among them, as after a real install) and the zip's postinstall runs first.

Then a fresh `node --require guard.js check.js SPEC` (bundler/_node/, shipped in the package) runs with
the unpacked root as its working folder and nothing else on its module path. It requires every entry point
the adapter named (Unit.entries; the export the platform calls must be a function), then the Prisma
client from there (@prisma/client -> .prisma/client, @generated/photon, or a generator `output`), and
emulates the client's engine lookup (Prisma 4.16-6.19's resolveEnginePath: env variable, the generated
folder, the runtime's parent, ../../../.prisma/client from the runtime, /tmp/prisma-engines, the schema
folder; check.js says more) from where the client really resolved: the first engine it would find must be
the bundled one. guard.js turns listen/connect into reported no-ops, so a handler that starts a
server or opens a database connection at require time does not; each run is bounded in time.

`node` mode uses the local node (skipped with a warning when there is none); `docker` runs the same script
inside the runtime's build image (through bundler/dockerio/), with the runtime's own Node and no network.
A failure raises LoadCheckError (exit 5): the missing module, who required it, and the likely cause.

The package: `model.py` (what is checked, pure), `run.py` (unpack and run node), `verdict.py` (the record or
the error). Callers import from `bundler.loadcheck`.
"""

from __future__ import annotations

from bundler.loadcheck.model import (
    COMMAND_NOT_FOUND,
    ENGINE_VARS,
    HINT,
    LAMBDA_LIKE,
    MARK,
    POSTINSTALL_FAILED,
    Artifact,
    Run,
    UnitCheck,
    Views,
    client_specs,
    module_name,
    provided_modules,
)
from bundler.loadcheck.run import extract, load_check, parse_output, postinstall_script
from bundler.loadcheck.verdict import describe_problem, missing_cause

__all__ = [
    "COMMAND_NOT_FOUND",
    "ENGINE_VARS",
    "HINT",
    "LAMBDA_LIKE",
    "MARK",
    "POSTINSTALL_FAILED",
    "Artifact",
    "Run",
    "UnitCheck",
    "Views",
    "client_specs",
    "describe_problem",
    "extract",
    "load_check",
    "missing_cause",
    "module_name",
    "parse_output",
    "postinstall_script",
    "provided_modules",
]
