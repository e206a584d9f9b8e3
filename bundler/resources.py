"""The data files shipped inside the packages (platforms/runtimes.toml, platforms/policies.toml,
bundler/layer_templates/), found through the import system, so a wheel, pipx or `pip install .` install reads
them exactly as a checkout or an editable install does. pyproject.toml's package-data lists them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def data_file(package: str, *parts: str) -> Path:
    """The path of a data file inside an installed package (pip installs packages as folders).

    The package's location comes from its import spec, which does not run the package (importlib.resources
    would import `platforms`, whose adapters import bundler modules that need these files)."""
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:  # pragma: no cover - a broken install
        raise FileNotFoundError(f"package {package!r} is not installed as a folder")
    return Path(locations[0]).joinpath(*parts)


def layer_options() -> tuple[dict[str, str], str]:
    """The Lambda layer layout (bundler/layer_templates/lambda/layout.toml) and its exec-wrapper template."""
    layout_dir = data_file("bundler", "layer_templates", "lambda")
    with (layout_dir / "layout.toml").open("rb") as fh:
        layout = {k: str(v) for k, v in tomllib.load(fh).items()}
    template = (layout_dir / layout["wrapper_template"]).read_text(encoding="utf-8")
    return layout, template
