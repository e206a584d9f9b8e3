"""Serverless Framework (AWS provider): one zip per function (package.individually) or one shared zip, and
a copy of serverless.yml whose package.artifact names them, so `serverless deploy` uploads them as they are.

Config: serverless.yml, else serverless.yaml (Serverless' own order). serverless.json/.js/.ts are not read
(.js/.ts are programs; convert a .json to .yml). Runtimes, OS profiles and engine targets are Lambda's
(runtimes.toml: [platform.serverless] runtimes_from = "lambda"); limits 50 MB zipped, 262,144,000 bytes
unzipped. Per function: `runtime` > provider.runtime > photon-bundle's default (engines.node, newest);
`architecture` > provider.architecture > x86_64 (arm64 -> linux-arm64-openssl-*); --runtime / --arch
override all (a warning says so when they differ from the file). Functions with a non-Node runtime, an
`image` or `package.disable` are left to Serverless.

Packaging, as Serverless decides it (lib/plugins/package/lib/package-service.js):
  * a function is packaged on its own when `package.individually` is true for the service or for it;
    it gets `functions/<name>.zip` with its handler file, what that file requires (platforms/jsdeps.py,
    relative requires followed), package.json, and only the production closure of the packages it loads.
    The others share `service.zip`: every app file and the production closure of package.json.
    Function-level patterns only count for functions packaged on their own (as in Serverless).
  * patterns (`package.patterns`, and the older include/exclude) are applied in order, the service's then
    the function's, after Serverless' default excludes (.git/**, .serverless/**, serverless.yml...): a
    `!glob` leaves matching files out, a plain glob puts them back; the last matching pattern wins.
    Globs are micromatch's, anchored at the service folder (`*.md` is top level only, `**/*.md` any
    depth; braces `{a,b}` expanded). They map onto gitignore lines: the order goes into Unit.excludes
    (`!glob` -> `/glob`, `glob` -> `!/glob`); plain globs also go into Unit.includes (in the same order)
    so a file the handler does not require (a template) can be named in, but never below node_modules:
    dependencies stay the production closure (Serverless, too, drops dev dependencies after the patterns).
    Differences: a glob naming a folder (`!docs`) covers the files in it (micromatch would match only a
    file of that name); photon-bundle's secrets excludes (.env, *.pem, .npmrc) are not put back by a
    pattern (use --include).
  * handler `src/users.handler` (Lambda splits the file name at its first dot) -> src/users.js, .mjs or
    .cjs. A .ts handler needs a build first: with the serverless-esbuild plugin (its custom.esbuild:
    external, exclude, minify, sourcemap) or --bundler esbuild photon-bundle bundles it (bundler/jsbundle/);
    else point the handler at tsc's output.

Variables (${self:...}, ${opt:stage}, ${sls:stage}, ${env:X}, fallbacks): see platforms/slsvars.py. Only
the fields photon-bundle reads are resolved; any other variable is left as it is in the written copy.

Output: `<out>/serverless.yml` (the config file's own name), a copy with package.artifact set per
function packaged on its own and at the top for the shared zip, relative to the project folder; comments,
key order and quoting kept (ruamel round trip). Your own file is updated only with --write-config, and
only when a round trip reproduces it byte for byte.

The package: `config.py` (reading serverless.yml), `patterns.py` (package patterns as gitignore lines),
`yamlwrite.py` (the written copy), `adapter.py` (the units). Callers import from `platforms.serverless`.
"""

from __future__ import annotations

from platforms.serverless.adapter import SHARED_UNIT, ServerlessAdapter, ServerlessExtras, function_unit
from platforms.serverless.config import (
    CONFIG_NAMES,
    SHARED_ZIP,
    UNREAD_CONFIGS,
    Function,
    Service,
    Setting,
    find_config,
    function_keys,
    handler_entry,
    read_function,
    read_service,
)
from platforms.serverless.patterns import (
    SLS_DEFAULT_EXCLUDES,
    Pattern,
    expand_braces,
    gitignore_lines,
    package_patterns,
    pattern_lines,
)
from platforms.serverless.yamlwrite import function_nodes, lossy_reason, set_artifact

__all__ = [
    "CONFIG_NAMES",
    "SHARED_UNIT",
    "SHARED_ZIP",
    "SLS_DEFAULT_EXCLUDES",
    "UNREAD_CONFIGS",
    "Function",
    "Pattern",
    "ServerlessAdapter",
    "ServerlessExtras",
    "Service",
    "Setting",
    "expand_braces",
    "find_config",
    "function_keys",
    "function_nodes",
    "function_unit",
    "gitignore_lines",
    "handler_entry",
    "lossy_reason",
    "package_patterns",
    "pattern_lines",
    "read_function",
    "read_service",
    "set_artifact",
]
