"""The platform registry: every name loads its adapter, has runtimes and limits as data, and a command."""

from __future__ import annotations

import pytest

from bundler.cli import cli
from bundler.options import KEYS
from bundler.targets import load_matrix
from platforms import REGISTRY, adapter


@pytest.mark.parametrize("name", list(REGISTRY))
def test_each_platform_has_an_adapter_data_and_a_command(name: str) -> None:
    loaded = adapter(name)
    assert loaded.key == name
    assert load_matrix().runtimes_for(name), f"no runtimes for {name} in runtimes.toml"
    assert load_matrix().platform(name).title
    command = cli.commands[name]
    flags = {p.name for p in command.params}
    # an adapter's own config keys are flags of its command, and never shadow a shared key
    assert set(loaded.extra_keys) <= flags
    assert not set(loaded.extra_keys) & set(KEYS)


def test_unknown_platform_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        adapter("heroku")
