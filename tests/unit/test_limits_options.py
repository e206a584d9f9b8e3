from __future__ import annotations

from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from bundler.errors import ConfigError
from bundler.limits import breakdown, parse_size
from bundler.options import FLAG_ONLY, KEYS, NoExtras, load_config, option_keys, resolve
from platforms.aws_lambda import LambdaExtras
from platforms.serverless import ServerlessExtras


@pytest.mark.parametrize(("text", "size"), [
    ("25mb", 25 * 1024 * 1024), ("50MB", 52428800), ("250MiB", 250 << 20), ("5242880", 5242880),
    ("1.5kb", 1536), ("1gb", 1 << 30), (" 10 mb ", 10 << 20), ("100b", 100),
])
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "mb", "25 megabytes", "-1mb", "1e6"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="cannot read size"):
        parse_size(text)


def test_breakdown_orders_by_size() -> None:
    packages, files = breakdown([("a/1", "a", 10), ("a/2", "a", 5), ("b/1", "b", 12)], top=5)
    assert [(c.name, c.size, c.files) for c in packages] == [("a", 15, 2), ("b", 12, 1)]
    assert [c.name for c in files] == ["b/1", "a/1", "a/2"]


def test_precedence(tmp_path: Path) -> None:
    (tmp_path / "photon-bundle.toml").write_text(
        'runtime = "nodejs18.x"\nmax_size = "40mb"\nexclude = ["docs/**"]\n[lambda]\nruntime = "nodejs20.x"\n')
    config = load_config(tmp_path, ["lambda", "gcf"], {})
    opts = resolve("lambda", config, {"PHOTON_BUNDLE_MAX_SIZE": "30mb"}, {"arch": "arm64", "runtime": None})
    assert opts.runtime == "nodejs20.x"
    assert opts.source("runtime") == "photon-bundle.toml [lambda]"
    assert opts.max_size == 30 << 20
    assert opts.source("max_size") == "PHOTON_BUNDLE_MAX_SIZE"
    assert opts.arch == "arm64"
    assert opts.source("arch") == "--arch"
    assert opts.exclude == ("docs/**",)
    assert opts.format == "zip"
    gcf = resolve("gcf", config, {}, {})
    assert gcf.runtime == "nodejs18.x"


def test_unknown_key_suggests(tmp_path: Path) -> None:
    (tmp_path / "photon-bundle.toml").write_text('[lambda]\nruntme = "nodejs20.x"\n')
    with pytest.raises(ConfigError, match=r"(?s)unknown key .runtme. in \[lambda\].*did you mean runtime"):
        load_config(tmp_path, ["lambda"], {})


def test_unknown_section_suggests(tmp_path: Path) -> None:
    (tmp_path / "photon-bundle.toml").write_text('[lamda]\nruntime = "nodejs20.x"\n')
    with pytest.raises(ConfigError, match=r"(?s)unknown section \[lamda\].*did you mean lambda"):
        load_config(tmp_path, ["lambda"], {})


def test_bad_toml_and_bad_value(tmp_path: Path) -> None:
    (tmp_path / "photon-bundle.toml").write_text('runtime = \n')
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(tmp_path, ["lambda"], {})
    with pytest.raises(ConfigError, match="--format: bad value 'tar'"):
        resolve("lambda", {}, {}, {"format": "tar"})


def test_a_command_checks_its_own_section(tmp_path: Path) -> None:
    (tmp_path / "photon-bundle.toml").write_text('[lambda]\nruntime = "nodejs20.x"\n[netlify]\nfunctons_dir = "f"\n')
    platforms = ["lambda", "netlify"]
    extra = {"netlify": ["functions_dir"]}
    assert load_config(tmp_path, platforms, {}, checked=["lambda"])["lambda"] == {"runtime": "nodejs20.x"}
    with pytest.raises(ConfigError, match=r"(?s)unknown key .functons_dir. in \[netlify\].*did you mean functions_dir"):
        load_config(tmp_path, platforms, extra, checked=["netlify"])
    (tmp_path / "photon-bundle.toml").write_text('[netlfy]\nruntime = "nodejs20.x"\n')
    with pytest.raises(ConfigError, match=r"unknown section \[netlfy\]"):  # section names are always checked
        load_config(tmp_path, platforms, {}, checked=["lambda"])


@pytest.mark.parametrize("text", ["9" * 400, "9" * 40 + "gb", 2**80, -1, "1" * 70])
def test_parse_size_refuses_absurd_sizes_with_a_short_message(text: str | int) -> None:
    with pytest.raises(ConfigError) as info:
        parse_size(text)
    assert len(str(info.value)) < 300


def test_echo_cuts_long_values() -> None:
    from bundler.errors import echo

    assert echo("short") == "'short'"
    cut = echo("x" * 100_000)
    assert len(cut) < 120 and cut.endswith("(100,002 characters)")


def test_message_lines_are_capped() -> None:
    from bundler.cli.common import shorten_lines

    message = shorten_lines("first\n" + "y" * 50_000 + "\nlast")
    first, middle, last = message.split("\n")
    assert (first, last) == ("first", "last") and len(middle) < 3000 and "characters left out" in middle


def test_config_file_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "photon-bundle.toml").write_bytes(b'runtime = "\xff"\n')
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_config(tmp_path, ["lambda"], {})


def test_options_are_typed_and_frozen_with_the_adapters_extras_and_their_sources(tmp_path: Path) -> None:
    (tmp_path / "photon-bundle.toml").write_text('[serverless]\nstage = "prod"\n')
    config = load_config(tmp_path, ["serverless"], {"serverless": option_keys(ServerlessExtras)})
    opts = resolve("serverless", config, {"PHOTON_BUNDLE_WRITE_CONFIG": "yes"}, {"handler": "ignored.x"},
                   ServerlessExtras)
    extras = opts.extras_as(ServerlessExtras)
    assert (extras.stage, extras.write_config) == ("prod", True)
    assert opts.source("stage") == "photon-bundle.toml [serverless]"
    assert opts.source("write_config") == "PHOTON_BUNDLE_WRITE_CONFIG"
    assert opts.source("handler") == "default"  # a flag naming no key of this platform is not read
    with pytest.raises(TypeError, match="carry ServerlessExtras, not LambdaExtras"):
        opts.extras_as(LambdaExtras)
    with pytest.raises(FrozenInstanceError):
        opts.runtime = "nodejs20.x"  # type: ignore[misc]
    items = dict(opts.items())
    assert set(items) == {*KEYS, "stage", "write_config"}
    assert items["stage"] == "prod" and items["build_timeout"] == 900.0
    with pytest.raises(ConfigError, match=r"--write-config: bad value 'maybe' for write_config"):
        resolve("serverless", {}, {}, {"write_config": "maybe"}, ServerlessExtras)


def test_only_flags_set_flag_only_keys_and_extras_keys_are_checked_in_their_section(tmp_path: Path) -> None:
    assert FLAG_ONLY == ("force",)
    (tmp_path / "photon-bundle.toml").write_text('force = true\n')
    with pytest.raises(ConfigError, match="unknown key 'force'"):
        load_config(tmp_path, ["lambda"], {})
    (tmp_path / "photon-bundle.toml").write_text('[lambda]\nhandler = "src/app.handler"\n')
    assert load_config(tmp_path, ["lambda"], {"lambda": option_keys(LambdaExtras)})["lambda"] == {
        "handler": "src/app.handler"}
    with pytest.raises(ConfigError, match=r"unknown key 'handler' in \[lambda\]"):
        load_config(tmp_path, ["lambda"], {"lambda": option_keys(NoExtras)})
