"""apex/up: the whole app (an HTTP server behind up's proxy) in one zip, with the runtime's engine only.

up deploys a project folder as one Lambda function: its own proxy shim (`_proxy.js`, `byline.js`) starts
the app as an HTTP server (`proxy.command` in up.json, else package.json's `start` script, else
`node app.js`). So there is no handler closure to follow: the unit is the whole app plus the full
production dependency closure, like Lambda's, with the one engine the runtime needs.

Runtime (up.json is read, never written):
  1. --runtime / photon-bundle.toml (`runtime` or `[up] runtime`): the user's explicit choice;
  2. up.json `lambda.runtime`: what up deploys;
  3. up's own default, nodejs10.x ([platform.up] default_runtime in runtimes.toml).
package.json engines.node is NOT used to pick the runtime, unlike the other platforms: up ignores it and
deploys nodejs10.x when up.json names no runtime, so an engine chosen from engines.node could be built for
another OpenSSL than the deployed runtime's (engines.node 20.x -> rhel-openssl-3.0.x, while up deploys
nodejs10.x on Amazon Linux 2 with OpenSSL 1.0). When engines.node excludes the runtime up deploys, the
bundle is still built for what up deploys and a warning says to set `lambda.runtime` in up.json.
`stages.<stage>.lambda.runtime` overrides the runtime per stage (up >= 1.5.1): a stage whose runtime
differs from the bundled one gets a warning naming the --runtime to bundle it with. Other up.json keys
(`lambda.memory`, `policy`, `vpc`, `hooks`, ...) do not change the bundle. up functions are x86_64 only
(up.json has no architecture setting), so --arch arm64 is refused.

Files, as up's zip builder (apex/up internal/zip/zip.go, gitignore rules via tj/go-archive) picks them:
`.*` (dotfiles are left out), then `!node_modules/**` and `!.pypath/**`, then the lines of `.upignore`,
then `!main !server !_proxy.js !byline.js !up.json !pom.xml !build.gradle !project.clj` (always in, even
when .upignore names them). Patterns are matched per file and also apply below node_modules, as up's do
(up's docs: a bare `src` line drops node_modules/debug/src/index.js too); a leading `./` anchors a
pattern to the project folder as up's docs describe (`./src`), i.e. gitignore's `/src`. photon-bundle's
own rules come on top: secrets (`.env*`, `*.pem`, `.npmrc`, ...) stay out even when a `.upignore`
negation names them (pass --include for that, a warning says so), and only the runtime's engine goes in.

Limits: 250 MiB unzipped (`250 << 20`, [platform.up] unzipped_max; the pipeline checks it before writing
anything). up uploads the zip through S3, so there is no compressed limit except --max-size.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bundler.errors import ConfigError, ProjectError, echo
from bundler.options import Options
from bundler.plan import DEFAULT_EXCLUDES
from bundler.project import Project
from bundler.targets import load_matrix, node_range_allows
from platforms.base import AdapterDefaults, Entry, Unit, package_main, script_file
from platforms.configfiles import read_ignore_file, read_json_object

CONFIG = "up.json"
IGNORE_FILE = ".upignore"
# apex/up internal/zip/zip.go: what up reads before and after the user's .upignore.
UP_IGNORE_BEFORE = (".*", "!node_modules/**", "!.pypath/**")
UP_IGNORE_AFTER = ("!main", "!server", "!_proxy.js", "!byline.js", "!up.json", "!pom.xml", "!build.gradle",
                   "!project.clj")
DEFAULT_START = "node app.js"  # up's proxy.command when neither up.json nor package.json's start says


@dataclass(frozen=True)
class UpConfig:
    """What photon-bundle reads from up.json: the runtime (and its line), per-stage runtimes, the start command."""

    path: Path
    exists: bool
    runtime: str | None = None
    runtime_line: int | None = None
    stage_runtimes: tuple[tuple[str, str, int | None], ...] = ()  # (stage, runtime, line)
    command: str | None = None


def json_key_lines(text: str) -> dict[tuple[str, ...], int]:
    """The line of every object key of a valid JSON text, by key path (array items by index)."""
    lines: dict[tuple[str, ...], int] = {}
    stack: list[list[Any]] = []  # [kind, current key or index]
    last: tuple[str, int] | None = None
    for m in re.finditer(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]', text):
        piece = m.group(0)
        if piece.startswith('"'):
            last = (json.loads(piece), m.start())
        elif piece == ":" and last is not None and stack:
            stack[-1][1] = last[0]
            lines[tuple(str(c[1]) for c in stack)] = text.count("\n", 0, last[1]) + 1
        elif piece in "{[":
            stack.append(["object" if piece == "{" else "array", 0])
        elif piece in "}]" and stack:
            stack.pop()
        elif piece == "," and stack and stack[-1][0] == "array":
            stack[-1][1] += 1
    return lines


def read_up_config(root: Path) -> UpConfig:
    """up.json's runtime settings; ProjectError (file:line) when malformed or a value has the wrong type (as
    for every platform's config file), ConfigError when a value names no runtime."""
    path = root / CONFIG
    if not path.is_file():
        return UpConfig(path=path, exists=False)
    data, text = read_json_object(path)
    lines = json_key_lines(text)
    runtime = _runtime_in(data, (), path, lines)
    stages: list[tuple[str, str, int | None]] = []
    stages_cfg = data.get("stages")
    if stages_cfg is not None and not isinstance(stages_cfg, dict):
        raise ProjectError(f"{path}:{lines.get(('stages',), 1)}: 'stages' must be an object of stage names")
    for stage, cfg in (stages_cfg or {}).items():
        if isinstance(cfg, dict):
            stage_runtime = _runtime_in(cfg, ("stages", stage), path, lines)
            if stage_runtime is not None:
                stages.append((stage, stage_runtime, lines.get(("stages", stage, "lambda", "runtime"))))
    proxy = data.get("proxy")
    command = proxy.get("command") if isinstance(proxy, dict) else None
    return UpConfig(path=path, exists=True, runtime=runtime, runtime_line=lines.get(("lambda", "runtime")),
                    stage_runtimes=tuple(stages), command=command if isinstance(command, str) and command else None)


def json_type(value: Any) -> str:
    """A parsed JSON value's type as JSON names it."""
    if isinstance(value, bool):
        return "a boolean"
    names = {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number"}
    return names.get(type(value), "null")


def _runtime_in(node: Mapping[str, Any], prefix: tuple[str, ...], path: Path,
                lines: Mapping[tuple[str, ...], int]) -> str | None:
    """`lambda.runtime` of up.json (or of a stage); an empty string means up's default, as in up."""
    dotted = ".".join((*prefix, "lambda"))
    lam = node.get("lambda")
    if lam is None:
        return None
    if not isinstance(lam, dict):
        raise ProjectError(f"{path}:{lines.get((*prefix, 'lambda'), 1)}: '{dotted}' must be an object, "
                           f"found {json_type(lam)}", hint='write it as "lambda": {"runtime": "nodejs20.x"}')
    runtime = lam.get("runtime")
    if runtime is None or runtime == "":
        return None
    if not isinstance(runtime, str):
        raise ProjectError(f"{path}:{lines.get((*prefix, 'lambda', 'runtime'), 1)}: '{dotted}.runtime' must be "
                           f"a string such as \"nodejs20.x\", found {echo(runtime)}")
    return runtime


def runtime_names() -> list[str]:
    return [r.name for r in load_matrix().runtimes_for(UpAdapter.key)]


def check_runtime(config: UpConfig, runtime: str, line: int | None, what: str) -> None:
    names = runtime_names()
    if runtime not in names:
        raise ConfigError(f"{config.path}:{line or 1}: {what} {runtime!r} is not an AWS Lambda Node.js runtime",
                          hint=f"use one of: {', '.join(names)}")


def upignore_excludes(root: Path) -> tuple[tuple[str, ...], list[str]]:
    """up's ignore rules around the project's .upignore, as gitignore lines; and warnings about them."""
    own = [_anchored(line) for line in read_ignore_file(root, IGNORE_FILE, includes=False)]
    import pathspec

    secrets = pathspec.GitIgnoreSpec.from_lines(DEFAULT_EXCLUDES)
    warnings = [f"{IGNORE_FILE} re-includes {line[1:]!r}, which photon-bundle never bundles by default (secrets); "
                f"pass --include '{line[1:].lstrip('/')}' to bundle it anyway"
                for line in own if line.startswith("!") and secrets.match_file(line[1:].lstrip("/"))]
    return (*UP_IGNORE_BEFORE, *own, *UP_IGNORE_AFTER), warnings


def _anchored(line: str) -> str:
    """up's `./src` (anchored to the project folder) in gitignore's spelling `/src`."""
    negate = "!" if line.startswith("!") else ""
    body = line[len(negate):]
    return negate + "/" + body[2:] if body.startswith("./") else line


def start_command(project: Project, config: UpConfig) -> tuple[str, str]:
    """(command, where it comes from) that up's proxy runs to start the app."""
    if config.command:
        return config.command, f"{CONFIG} proxy.command"
    pkg_path = project.root / "package.json"
    scripts = read_json_object(pkg_path)[0].get("scripts") if pkg_path.is_file() else None
    start = scripts.get("start") if isinstance(scripts, dict) else None
    if isinstance(start, str) and start.strip():
        return start, "package.json scripts.start"
    return DEFAULT_START, "up's default"


def missing_start_file(root: Path, command: str) -> str | None:
    """The script of a `node FILE ...` start command when it is not in the project."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if len(words) < 2 or words[0] != "node":
        return None
    script = next((w for w in words[1:] if not w.startswith("-")), None)
    if script is None or (root / script).is_file() or (root / f"{script}.js").is_file():
        return None
    return script


def server_file(project: Project, command: str) -> str | None:
    """The file up's proxy starts: the script of a `node FILE` command, else package.json main, else app.js.
    The load check requires it with listening turned off."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = []
    for i, word in enumerate(words[:-1]):
        if posixpath_base(word) == "node":
            script = next((w for w in words[i + 1:] if not w.startswith("-")), None)
            found = script_file(project.root, script) if script else None
            if found:
                return found
    return package_main(project) or script_file(project.root, "app.js")


def posixpath_base(word: str) -> str:
    return word.rsplit("/", 1)[-1]


class UpAdapter(AdapterDefaults):
    # up.json is never written (no outputs) and there is no zip limit (up uploads through S3).
    key = "up"

    def runtime_from_config(self, project: Project) -> tuple[str, str]:
        """up.json lambda.runtime, else up's default; never None, so engines.node does not decide (see above)."""
        config = read_up_config(project.root)
        if config.runtime is not None:
            check_runtime(config, config.runtime, config.runtime_line, "lambda.runtime")
            return config.runtime, f"{CONFIG} lambda.runtime"
        default = load_matrix().platform(self.key).default_runtime
        assert default is not None, "runtimes.toml: [platform.up] needs default_runtime"
        where = f"{CONFIG} sets no lambda.runtime" if config.exists else f"no {CONFIG}"
        return default, f"up's default ({where})"

    def units(self, project: Project, options: Options, env: Mapping[str, str]) -> list[Unit]:
        if options.arch != "x86_64":
            raise ConfigError(f"apex/up deploys x86_64 functions only (up.json has no architecture setting), but "
                              f"{options.source('arch')} asks for {options.arch}", hint="drop the arch setting")
        config = read_up_config(project.root)
        excludes, warnings = upignore_excludes(project.root)
        runtime = self._runtime(project, config, options, warnings)
        for stage, stage_runtime, line in config.stage_runtimes:
            if stage_runtime != runtime:
                known = "" if stage_runtime in runtime_names() else " (not a Lambda Node.js runtime)"
                warnings.append(f"{config.path}:{line or 1}: stage {stage!r} deploys {stage_runtime}{known}, this "
                                f"bundle is for {runtime}: bundle that stage with --runtime {stage_runtime}")
        command, command_from = start_command(project, config)
        script = missing_start_file(project.root, command)
        if script is not None:
            warnings.append(f"up starts the app with `{command}` ({command_from}), but {script} is not in the project")
        if not config.exists:
            warnings.append(f"no {CONFIG} in {project.root}: bundling with up's defaults")
        has_ignore = (project.root / IGNORE_FILE).is_file()
        meta = {"config": CONFIG if config.exists else "(none)",
                "ignore_file": IGNORE_FILE if has_ignore else "(up's defaults)", "start": command}
        server = server_file(project, command)
        if server is None:
            warnings.append(f"no server file to load-check: `{command}` ({command_from}) runs no `node FILE`, and "
                            "package.json names no existing main and there is no app.js")
        return [Unit(name="", function_filename=self.function_filename, layer_filename=self.layer_filename,
                     excludes=excludes, meta=meta, warnings=tuple(warnings),
                     entries=(Entry(server),) if server else ())]

    def _runtime(self, project: Project, config: UpConfig, options: Options, warnings: list[str]) -> str:
        """The runtime the pipeline will pick (runtime_choice.choose_runtime), with warnings where up would deploy
        another."""
        if options.runtime:
            runtime: str = options.runtime
            if config.runtime is not None and config.runtime != runtime:
                warnings.append(f"{config.path}:{config.runtime_line or 1}: up deploys lambda.runtime "
                                f"{config.runtime}, but {options.source('runtime')} bundles for {runtime}: "
                                f"set lambda.runtime to {runtime} in {CONFIG} before deploying")
            return runtime
        runtime, why = self.runtime_from_config(project)
        node = project.package.engines_node
        found = next((r for r in load_matrix().runtimes_for(self.key) if r.name == runtime), None)
        if node and found is not None and not node_range_allows(node, found.node):
            warnings.append(f'package.json engines.node "{node}" excludes Node {found.node}, but up deploys '
                            f"{runtime} ({why}): set lambda.runtime in {CONFIG} to the runtime you need")
        return runtime

