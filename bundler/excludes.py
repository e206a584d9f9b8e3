"""What is left out before the plan looks at a file's package: the default excludes (secrets, junk, other
tools' build output), the output folder, and the user's exclude and include patterns, all gitignore lines
matched with pathspec (bundler/plan.py applies them; bundler/scan.py and bundler/outdir.py use the defaults)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pathspec

SECRET_EXCLUDES = (
    ".git/", ".hg/", ".svn/", ".env", ".env.*", "*.pem", "*.key", "id_rsa*", ".npmrc", ".yarnrc", ".yarnrc.yml",
    ".aws/",
    ".photon-bundle/", "photon-bundle.toml", ".DS_Store", "*.tfstate", "*.tfstate.backup",
)
# Other tools' output and cache folders: the Serverless Framework's packages (its CloudFormation templates carry
# resolved secrets, its zips the .env), serverless-esbuild / -webpack / -plugin-typescript builds, SAM, Netlify,
# Vercel / Now, CDK, Terraform, Next.js' build cache, Turborepo and Parcel caches. `--include` brings one back.
BUILD_OUTPUT_EXCLUDES = (
    ".serverless/", ".esbuild/", ".webpack/", ".build/", ".aws-sam/", ".netlify/", ".vercel/", ".now/",
    "cdk.out/", ".terraform/", ".next/cache/", ".turbo/", ".parcel-cache/",
)
DEFAULT_EXCLUDES = SECRET_EXCLUDES + BUILD_OUTPUT_EXCLUDES

def default_exclude_candidate(out_rel: str | None) -> Callable[[str], bool]:
    """A cheap test that is true for every path DEFAULT_EXCLUDES (plus the output folder) can match, so the
    gitignore matcher runs on a few files instead of all of them. Every default pattern names a component
    that starts with a dot, ends in .pem, .key or .tfstate (.backup), starts with id_rsa, or is
    photon-bundle.toml or cdk.out; the output folder's pattern names its last component
    (tests/unit/test_plan.py checks the superset)."""
    out_token = "/" + out_rel.strip("/").rsplit("/", 1)[-1] + "/" if out_rel and out_rel.strip("/") else None

    def candidate(rel: str) -> bool:
        return (rel.startswith(".") or "/." in rel or ".pem" in rel or ".key" in rel or "id_rsa" in rel
                or "photon-bundle.toml" in rel or ".tfstate" in rel or "cdk.out" in rel
                or (out_token is not None and out_token in "/" + rel + "/"))

    return candidate


@dataclass(frozen=True)
class Filters:
    """The default excludes, the user's excludes and includes, as one decision per file."""

    default: pathspec.GitIgnoreSpec
    build_outputs: pathspec.GitIgnoreSpec
    maybe_default: Callable[[str], bool]
    user: pathspec.GitIgnoreSpec | None
    include: pathspec.GitIgnoreSpec | None

    @classmethod
    def of(cls, out_rel: str | None, excludes: tuple[str, ...], includes: tuple[str, ...]) -> Filters:
        """The output folder (relative to the root, when inside it) is excluded with the defaults."""
        out = (out_rel.rstrip("/") + "/",) if out_rel else ()
        return cls(default=gitignore_spec(DEFAULT_EXCLUDES + out), build_outputs=gitignore_spec(BUILD_OUTPUT_EXCLUDES),
                   maybe_default=default_exclude_candidate(out_rel),
                   user=gitignore_spec(excludes) if excludes else None,
                   include=gitignore_spec(includes) if includes else None)

    def apply(self, rel: str, reason: str | None, includable: bool = True) -> str | None:
        """The file's reason to be left out after the patterns; an include brings back only an `includable`
        file (the plan never lets one bring back an engine)."""
        if reason is None and self.maybe_default(rel) and self.default.match_file(rel):
            reason = ("excluded by default (another tool's build output or cache)"
                      if self.build_outputs.match_file(rel) else "excluded by default (secrets and junk)")
        if reason is None and self.user is not None and self.user.match_file(rel):
            reason = "excluded by exclude patterns (--exclude, the config file, or the platform's ignore rules)"
        if reason is not None and includable and self.include is not None and self.include.match_file(rel):
            reason = None
        return reason


def gitignore_spec(patterns: Iterable[str]) -> pathspec.GitIgnoreSpec:
    import pathspec  # imported when planning, so reading the platform registry stays light

    return pathspec.GitIgnoreSpec.from_lines(list(patterns))
