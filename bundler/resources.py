"""The data files shipped inside the packages (platforms/runtimes.toml, platforms/policies.toml,
bundler/layer_templates/), found through the import system, so a wheel, pipx or `pip install .` install reads
them exactly as a checkout or an editable install does. pyproject.toml's package-data lists them."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def data_file(package: str, *parts: str) -> Path:
    """The path of a data file inside an installed package (pip installs packages as folders).

    The package's location comes from its import spec, which does not run the package (importlib.resources
    would import `platforms`, whose adapters import bundler modules that need these files)."""
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:  # pragma: no cover - a broken install
        raise FileNotFoundError(f"package {package!r} is not installed as a folder")
    return Path(locations[0]).joinpath(*parts)
