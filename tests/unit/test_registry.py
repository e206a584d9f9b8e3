"""The platform registry: every name loads its adapter, has runtimes and limits as data, and a command."""

from __future__ import annotations

import click
import pytest

from bundler.cli import PLATFORMS, cli
from bundler.options import KEYS, option_keys
from bundler.targets import load_matrix
from platforms import REGISTRY, adapter
from platforms.base import AdapterDefaults


@pytest.mark.parametrize("name", list(REGISTRY))
def test_each_platform_has_an_adapter_data_and_a_command(name: str) -> None:
    loaded = adapter(name)
    assert loaded.key == name
    assert load_matrix().runtimes_for(name), f"no runtimes for {name} in runtimes.toml"
    assert load_matrix().platform(name).title
    command = cli.get_command(click.Context(cli), name)
    assert command is not None and command.name == name
    flags = {p.name for p in command.params}
    # an adapter's own config keys are flags of its command, and never shadow a shared key
    assert set(option_keys(loaded.extras)) <= flags
    assert not set(option_keys(loaded.extras)) & set(KEYS)


def test_the_command_line_knows_every_platform_and_only_those() -> None:
    assert set(PLATFORMS) == set(REGISTRY)
    assert cli.get_command(click.Context(cli), "heroku") is None


def test_unknown_platform_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        adapter("heroku")


@pytest.mark.parametrize("name", list(REGISTRY))
def test_the_adapter_takes_names_layers_and_limits_from_runtimes_toml(name: str) -> None:
    loaded, info = adapter(name), load_matrix().platform(name)
    assert isinstance(loaded, AdapterDefaults)
    assert (loaded.function_filename, loaded.layer_filename, loaded.supports_layers) == (
        info.function_filename, info.layer_filename, info.layers)
    assert loaded.zip_limit() == (info.default_max if info.default_max is not None else info.zip_max)


def test_the_data_holds_each_platform_s_own_names_and_limits() -> None:
    """The values the adapters used to restate, now data: what differs from the defaults."""
    from platforms.serverless import SHARED_ZIP

    got = {name: (adapter(name).function_filename, adapter(name).supports_layers, adapter(name).zip_limit())
           for name in REGISTRY}
    assert got == {"lambda": ("function.zip", True, 52_428_800), "gcf": ("source.zip", False, 104_857_600),
                   "netlify": ("function.zip", False, 52_428_800), "now": ("function.zip", False, 5_242_880),
                   "vercel": ("function.zip", False, None), "up": ("function.zip", False, None),
                   "serverless": (SHARED_ZIP, False, 52_428_800)}
    assert {adapter(name).layer_filename for name in REGISTRY} == {"layer.zip"}
