"""Build the project inside a container that matches the runtime, and hand back what it produced.

The container is the runtime's build image (RuntimeProfile.image, or --image / the config file), for the
profile's architecture (`--platform linux/arm64` for arm64 profiles: works where the Docker host has
emulation, fails with a clear error where it has not). The project is copied in as a tar stream (never a
bind mount: the user's tree is never changed), without node_modules, .git and the .photon-bundle output
directory. A workspace member is built inside its workspace root (bundler/engines/build_root.py): the root
with its lockfile and every workspace package is copied, installed at the root, and generated in the member
and the workspace packages it uses that hold a schema. The recipe runs with `sh -c` in the project directory:

    <install>  &&  <generate>

- install, by lockfile: package-lock.json / npm-shrinkwrap.json -> `npm ci`; yarn.lock -> `yarn install
  --frozen-lockfile`; pnpm-lock.yaml -> `pnpm install --frozen-lockfile`; none -> `npm install`.
  Development dependencies are installed on purpose: the generate step runs the project's own Prisma CLI,
  a devDependency (with --omit=dev, `npx prisma` would fetch whatever Prisma is newest from the registry,
  whose engine would not match the project's client). The bundle planner keeps only the production
  dependency closure, so dev packages never reach the artifact.
- generate: `npx prisma generate` (`npx prisma2 generate` for 2019 projects that depend on `prisma2`);
  skipped when the project has no Prisma schema.

The project directory (for a member: the whole workspace root) with node_modules (generated client, engines,
native addons; hoisted packages and pnpm's store at the root) is then copied out into a staging directory,
from which the bundle is planned like any other project tree (for a member: its folder inside the built root,
so Node's lookup finds the root's node_modules as it does on the host).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from bundler import dockerio
from bundler.engines import EngineKind, engine_filename, parse_engine_filename
from bundler.engines.build_root import BuildRoot, build_root, container_path
from bundler.errors import ConfigError, DockerError, EngineNotFoundError, ProjectError
from bundler.targets import RuntimeProfile

Log = Callable[[str], None]

CONTAINER_PROJECT = "/photon-bundle/project"
OUTPUT_DIR = ".photon-bundle"
EXCLUDED_NAMES = frozenset({"node_modules"})  # at any depth
EXCLUDED_AT_ROOT = frozenset({".git", OUTPUT_DIR})
LOG_PREFIX = "  [docker] "

# Quiet, non-interactive installs; npm 6 (Node 8/10 images) runs install scripts as `nobody` under root
# unless unsafe-perm is set, and Prisma's postinstall must write into node_modules.
DEFAULT_ENV: Mapping[str, str] = {
    "CI": "1",
    "npm_config_unsafe_perm": "true",
    "npm_config_update_notifier": "false",
    "npm_config_fund": "false",
    "npm_config_audit": "false",
    "CHECKPOINT_DISABLE": "1",
    "PRISMA_HIDE_UPDATE_MESSAGE": "1",
}

# Where the generated client puts the engine, most specific first (FACTS.md section 4; the 2.0 previews'
# runtime/ folders from platforms/clients.toml).
ENGINE_DIRS = ("node_modules/.prisma/client", "node_modules/@generated/photon", "node_modules/@prisma/client",
               "node_modules/@prisma/photon/runtime", "node_modules/@prisma/client/runtime",
               "node_modules/@generated/photon/runtime")


@dataclass(frozen=True)
class DockerBuildOptions:
    image: str | None = None  # None -> profile.image
    command: str | None = None  # None -> default recipe for the lockfile
    env: Mapping[str, str] = field(default_factory=dict)  # extra env for the container
    timeout: float = 900.0
    pull: bool = True
    leave_out: tuple[str, ...] = ()  # project-relative folders not copied in (an --out inside the project)


# ---------------------------------------------------------------- the recipe (pure)


def install_command(project_root: Path) -> str:
    """The install step for the project's lockfile."""
    if (project_root / "pnpm-lock.yaml").is_file():
        return "pnpm install --frozen-lockfile"
    if (project_root / "yarn.lock").is_file():
        return "yarn install --frozen-lockfile"
    if (project_root / "package-lock.json").is_file() or (project_root / "npm-shrinkwrap.json").is_file():
        return "npm ci"
    return "npm install"


def generate_command(project_root: Path) -> str | None:
    """The Prisma generate step, or None when the project has no Prisma schema."""
    package = _package_json(project_root)
    deps: dict[str, Any] = {**package.get("devDependencies", {}), **package.get("dependencies", {})}
    custom_schema = (package.get("prisma") or {}).get("schema") if isinstance(package.get("prisma"), dict) else None
    schemas = [project_root / "prisma" / "schema.prisma", project_root / "schema.prisma"]
    if isinstance(custom_schema, str):
        schemas.insert(0, project_root / custom_schema)
    has_schema = any(p.exists() for p in schemas) or (project_root / "prisma").is_dir()
    if "prisma2" in deps and "prisma" not in deps:
        return "npx prisma2 generate"
    if has_schema or "prisma" in deps or "@prisma/client" in deps:
        return "npx prisma generate"
    return None


def default_recipe(project_root: Path, build: BuildRoot | None = None) -> str:
    """Install and generate for a single package (run in its folder), or, for a workspace member, install at
    the workspace root and generate in each folder with a schema that the member uses (absolute `cd`s: the
    recipe starts in the member's folder, like a --build-command does)."""
    build = build or build_root(project_root)
    if not build.is_member:
        steps = [install_command(project_root)]
        generate = generate_command(project_root)
        if generate:
            steps.append(generate)
        return " && ".join(steps)
    steps = [f"cd {shlex.quote(CONTAINER_PROJECT)}", install_command(build.root)]
    for rel in build.generate_in:
        generate = generate_command(build.root / rel)
        if generate:
            steps += [f"cd {shlex.quote(container_path(CONTAINER_PROJECT, rel))}", generate]
    return " && ".join(steps)


def _package_json(project_root: Path) -> dict[str, Any]:
    path = project_root / "package.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}  # the project inspector reports a malformed package.json; the build just runs npm
    return data if isinstance(data, dict) else {}


def build_image(profile: RuntimeProfile, options: DockerBuildOptions) -> str:
    image = options.image or profile.image
    if not image:
        raise ConfigError(
            f"no default build image for {profile.platform.title} {profile.runtime.name} on {profile.arch}",
            hint="name one with --image (or `image` in the config file)",
        )
    return image


def skip_in_copy(relative: PurePosixPath, _is_dir: bool) -> bool:
    """What is not copied into the container: node_modules (any depth), .git and the output dir (top)."""
    if relative.name in EXCLUDED_NAMES:
        return True
    return len(relative.parts) == 1 and relative.name in EXCLUDED_AT_ROOT


def copy_filter(leave_out: tuple[str, ...], member: str = "") -> Callable[[PurePosixPath, bool], bool]:
    """skip_in_copy, and the given project-relative folders (the output folder when --out is inside). For a
    workspace member copied with its root, the member's own .git and output folder are left out too."""
    prefix = member.strip("/") + "/" if member else ""
    folders = frozenset(prefix + p.strip("/") for p in leave_out)
    if prefix:
        folders |= {prefix + name for name in EXCLUDED_AT_ROOT}

    def skip(relative: PurePosixPath, is_dir: bool) -> bool:
        return skip_in_copy(relative, is_dir) or relative.as_posix() in folders

    return skip


# ---------------------------------------------------------------- the build


@contextmanager
def built_tree(
    project_root: Path, profile: RuntimeProfile, options: DockerBuildOptions, log: Callable[[str], None]
) -> Iterator[Path]:
    """Yields a temp directory holding the project as built inside the container (app files + node_modules).
    Removed on exit. The container is removed on success, failure, timeout and Ctrl-C."""
    project_root = project_root.resolve()
    if not (project_root / "package.json").is_file():
        raise ProjectError(f"{project_root} has no package.json", hint="run photon-bundle in the project directory")
    image = build_image(profile, options)
    platform = dockerio.platform_for(profile.arch)
    where = build_root(project_root)
    recipe = options.command or default_recipe(project_root, where)
    staging = Path(tempfile.mkdtemp(prefix="photon-bundle-build-"))
    try:
        client = dockerio.connect()
        info = dockerio.ensure_image(client, image, platform=platform, pull=options.pull, log=log)
        host = dockerio.daemon_machine(client)
        emulated = dockerio.platform_for(host) != dockerio.platform_for(info.machine)
        log(f"building in {image} ({info.platform}{', emulated on ' + host if emulated else ''}): {recipe}")
        env = {**DEFAULT_ENV, **options.env}
        with dockerio.container(
            client,
            image,
            entrypoint=["/bin/sh", "-c"],
            command=[recipe],
            env=env,
            workdir=container_path(CONTAINER_PROJECT, where.member),
            platform=platform,
            role="build",
        ) as box:
            copied = dockerio.put_directory(box, where.root, CONTAINER_PROJECT,
                                            skip=copy_filter(options.leave_out, where.member))
            log(f"copied {copied} entries of {where.root} into the container"
                + (f" (the workspace root of {where.member})" if where.is_member else ""))
            try:
                result = dockerio.run_logged(box, timeout=options.timeout, log=log, prefix=LOG_PREFIX)
            except DockerError as err:
                if emulated and "exec format error" in str(err):
                    raise _no_emulation(host, info) from err
                raise
            _check(result, image=image, info=info, host=host, recipe=recipe, timeout=options.timeout)
            log(f"build finished in {result.seconds:.1f} s; copying the project out")
            report = dockerio.fetch_directory(box, CONTAINER_PROJECT, staging / "project")
            for entry in report.skipped:
                log(f"not copied out (outside the project or a special file): {entry}")
        yield staging / "project" / where.member if where.is_member else staging / "project"
    finally:
        remove_tree(staging)


def _check(
    result: dockerio.RunResult, *, image: str, info: dockerio.ImageInfo, host: str, recipe: str, timeout: float
) -> None:
    last = "\n".join(f"    {line}" for line in result.tail) or "    (no output)"
    if result.timed_out:
        raise DockerError(
            f"the build in {image} did not finish within {timeout:g} s and was stopped; last lines:\n{last}",
            hint="raise the build timeout, or look for a step in the recipe that waits for input or hangs",
        )
    if result.exit_code == 0:
        return
    if "exec format error" in "\n".join(result.tail) and dockerio.platform_for(host) != dockerio.platform_for(
        info.machine
    ):
        raise _no_emulation(host, info)
    raise DockerError(
        f"the build in {image} failed: `{recipe}` exited with code {result.exit_code}; last lines:\n{last}",
        hint=f"fix the error shown above (try the recipe in `docker run --rm -it {shlex.quote(image)} sh`), "
        "or give another build command",
    )


def _no_emulation(host: str, info: dockerio.ImageInfo) -> DockerError:
    return DockerError(
        f"this Docker host ({host}) cannot run {info.platform} containers: no emulation for that architecture",
        hint=f"install QEMU user emulation on the Docker host (Debian: `apt-get install qemu-user-static "
        f"binfmt-support`), build on a {info.machine} machine, or take the engine from the mirror instead",
    )


def remove_tree(path: Path) -> None:
    """rmtree that also removes directories a build left read-only."""
    if not path.exists():
        return
    path.chmod(path.stat().st_mode | stat.S_IRWXU)
    for current, dirs, _files in os.walk(path):
        for name in dirs:
            child = Path(current) / name
            if not child.is_symlink():
                child.chmod(child.stat().st_mode | stat.S_IRWXU)
    shutil.rmtree(path)


# ---------------------------------------------------------------- just the engine


def _client_homes(tree: Path) -> list[Path]:
    """The engine folders of the generated clients Node's lookup reaches from the built tree (a workspace
    root's node_modules, pnpm's store: bundler/clients.py through bundler/resolve.py)."""
    from bundler.clients import find_clients
    from bundler.project import read_project

    try:
        clients = find_clients(read_project(tree))
    except ProjectError:
        return []
    homes = [tree / home for c in clients if c.generated for home in (c.layout.engine_home(c.dir), c.dir)]
    return [Path(os.path.realpath(h)) for h in homes]


def find_engine(tree: Path, profile: RuntimeProfile, kind: EngineKind, *, search: Path | None = None) -> Path | None:
    """The query engine for the profile in a built tree: the generated client's own copy first (where the
    project's client is, as Node finds it), then any copy below `search` (the built root; default the tree)."""
    wanted = {engine_filename(kind, target) for target in profile.accepted_targets if kind != "client"}
    for directory in [*(tree / d for d in ENGINE_DIRS), *_client_homes(tree)]:
        for name in sorted(wanted):
            candidate = directory / name
            if candidate.is_file():
                return candidate
    found: list[Path] = []
    modules = (search or tree) / "node_modules"
    for candidate in sorted(modules.rglob("*")) if modules.is_dir() else []:
        parsed = parse_engine_filename(candidate.name)
        if (
            parsed
            and parsed.kind == kind
            and parsed.target in profile.accepted_targets
            and candidate.is_file()
            and not candidate.is_symlink()
        ):
            found.append(candidate)
    return found[0] if found else None


def engine_from_container(
    project_root: Path,
    profile: RuntimeProfile,
    kind: EngineKind,
    options: DockerBuildOptions,
    log: Callable[[str], None],
    dest_dir: Path | None = None,
) -> Path:
    """Build the project in the container and return the query engine it produced for `profile`.

    The file is copied (mode kept, 0755 for a binary engine) into `dest_dir`, or into a new temp directory
    that the caller owns and removes (`shutil.rmtree(path.parent)`). EngineNotFoundError when the build
    produced no engine for the profile's target.
    """
    if kind == "client":
        raise ConfigError("the client engine (Prisma 7 / engineType=client) has no native file to build")
    with built_tree(project_root, profile, options, log) as tree:
        member = build_root(project_root).member
        engine = find_engine(tree, profile, kind, search=tree.parents[member.count("/")] if member else tree)
        if engine is None:
            name = engine_filename(kind, profile.target)
            raise EngineNotFoundError(
                f"the build in the container produced no {name}",
                hint=f'add "{profile.target}" (or "native") to binaryTargets in the generator block of '
                "schema.prisma, and check engineType",
            )
        target_dir = dest_dir if dest_dir is not None else Path(tempfile.mkdtemp(prefix="photon-bundle-engine-"))
        target_dir.mkdir(parents=True, exist_ok=True)
        out = target_dir / engine.name
        shutil.copyfile(engine, out)
        mode = engine.stat().st_mode & 0o777
        out.chmod(0o755 if kind == "binary" else mode | 0o444)
        log(f"engine from the container: {os.path.relpath(engine, tree)} -> {out}")
        return out


def docker_source_for(
    profile: RuntimeProfile, build: DockerBuildOptions, log: Callable[[str], None], dest_dir: Path
) -> Callable[..., Any]:
    """An `acquire(docker=...)` source (bundler.engines.acquire.EngineSource): builds the project in the
    profile's image and returns the engine it produced, copied into `dest_dir` (owned by the caller)."""
    from bundler.engines.acquire import AcquiredEngine, EngineOptions
    from bundler.hashing import sha256_file

    def source(
        kind: EngineKind, target: str, *, version: str | None, project_root: Path, options: EngineOptions
    ) -> AcquiredEngine:
        del options  # mirror/cache settings do not apply to a container build
        if target not in profile.accepted_targets:
            raise ConfigError(
                f"the Docker build for {profile.platform.title} {profile.runtime.name} ({profile.arch}) makes "
                f"{profile.target} engines, not {target}",
                hint="choose the runtime and --arch that need this target, or another --engine-source",
            )
        path = engine_from_container(project_root, profile, kind, build, log, dest_dir)
        return AcquiredEngine(
            path=path, source="docker", sha256=sha256_file(path), kind=kind, target=target, version=version
        )

    return source
