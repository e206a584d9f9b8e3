from __future__ import annotations

from pathlib import Path

import pytest

from bundler.errors import ProjectError
from bundler.project import parse_package_json, parse_schema, read_project

PHOTON_2019 = """\
datasource db {
  provider = "mysql"
  url      = "mysql://root@localhost/db"
}

generator photon {
  provider  = "photonjs"
  platforms = ["native", "linux-glibc-libssl1.0.2"]
}

model User {
  id    String @id @default(cuid())
  email String @unique // { braces in a comment }
}
"""

CURRENT = """\
// A current Prisma schema
datasource db {
  provider = "postgresql"
  url      = env("DATABASE_URL")
}

generator client {
  provider      = "prisma-client-js"
  output        = "../node_modules/.prisma/client"
  binaryTargets = [
    "native",
    "rhel-openssl-3.0.x", // Lambda
  ]
  engineType    = "binary"
}

generator docs {
  provider = "prisma-docs-generator"
}
"""


def test_photon_2019_schema() -> None:
    schema = parse_schema(PHOTON_2019, "project.prisma")
    assert schema.is_photon
    assert schema.datasource_provider == "mysql"
    (gen,) = schema.client_generators
    assert gen.provider == "photonjs"
    assert gen.platforms == ("native", "linux-glibc-libssl1.0.2")
    assert gen.targets == gen.platforms


def test_current_schema() -> None:
    schema = parse_schema(CURRENT, "prisma/schema.prisma")
    assert not schema.is_photon
    assert schema.datasource_provider == "postgresql"
    assert [g.name for g in schema.generators] == ["client", "docs"]
    (client,) = schema.client_generators
    assert client.binary_targets == ("native", "rhel-openssl-3.0.x")
    assert client.output == "../node_modules/.prisma/client"
    assert client.engine_type == "binary"
    assert client.line == 7


@pytest.mark.parametrize(("text", "message"), [
    ('generator client {\n  provider = prisma-client-js\n}\n', "schema.prisma:2: expected a quoted string"),
    ('generator client {\n  provider = "x"\n', "schema.prisma:1: generator 'client' is not closed"),
    ('generator client {\n  binaryTargets = ["native"]\n}\n', "schema.prisma:1: generator 'client' has no provider"),
    ('generator client {\n  provider "x"\n}\n', "schema.prisma:2: expected `key = value`"),
    ('generator {\n}\n', "schema.prisma:1: expected `generator <name> {`"),
    ('generator c {\n  provider = "p"\n  binaryTargets = ["native",\n', "schema.prisma:3: list for 'binaryTargets'"),
])
def test_malformed_schema_names_file_and_line(text: str, message: str) -> None:
    with pytest.raises(ProjectError, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse_schema(text, "schema.prisma")


def test_package_json_fields() -> None:
    pkg = parse_package_json(
        '{"name": "a", "main": "h.js", "dependencies": {"x": "1"}, "optionalDependencies": {"y": "2"},'
        ' "devDependencies": {"z": "3"}, "engines": {"node": ">=18"}}', "package.json")
    assert pkg.runtime_dependencies == ["x", "y"]
    assert pkg.dev == {"z": "3"}
    assert pkg.engines_node == ">=18"


def test_malformed_package_json_names_line() -> None:
    with pytest.raises(ProjectError, match=r"package.json:3:2: invalid JSON: Extra data"):
        parse_package_json('{\n  "name": "a"\n}}', "package.json")


def test_bad_dependency_shape() -> None:
    with pytest.raises(ProjectError, match="'dependencies' must be an object"):
        parse_package_json('{"dependencies": ["a"]}', "package.json")


def test_read_project_lockfile_and_schema(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{"name": "a"}')
    (tmp_path / "yarn.lock").write_text("")
    (tmp_path / "prisma").mkdir()
    (tmp_path / "prisma" / "schema.prisma").write_text(CURRENT)
    project = read_project(tmp_path)
    assert project.lockfile == "yarn"
    assert project.schema is not None and project.schema.path == "prisma/schema.prisma"


def test_read_project_without_package_json(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match=r"no package\.json"):
        read_project(tmp_path)


# ------------------------------------------------------------------ package.json as node reads it


def test_user_package_json_may_start_with_a_bom(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_bytes(b'\xef\xbb\xbf{"name": "app", "main": "h.js"}')
    assert read_project(tmp_path).package.main == "h.js"


@pytest.mark.parametrize(("raw", "name", "main", "warned"), [
    (b'\xef\xbb\xbf{"name": "bom", "main": "lib/m.js"}', "bom", "lib/m.js", None),
    (b'{"name": "lat", "description": "caf\xe9", "main": "m.js"}', "lat", "m.js", None),  # not in a used field
    (b'{"name": "lat", "main": "caf\xe9.js"}', "lat", "caf\ufffd.js", "not UTF-8"),  # node looks for caf\ufffd.js
    (b'{"name": "bad", "main": "m.js",}', "bad", None, "invalid JSON"),
    (b"[1, 2]", "bad", None, "not a JSON object"),
    (b'{"name": 5, "main": ["x"], "dependencies": {"a": "1", "b": 2}}', "bad", None, None),  # node ignores types
])
def test_installed_package_json_is_read_as_node_reads_it(tmp_path: Path, raw: bytes, name: str, main: str | None,
                                                         warned: str | None) -> None:
    from bundler.project import read_installed_package_json

    path = tmp_path / "package.json"
    path.write_bytes(raw)
    package, note = read_installed_package_json(path, "node_modules/" + name)
    assert (package.name, package.main) == (name, main)
    assert (note is None) == (warned is None)
    if warned is not None:
        assert warned in (note or "") and str(path) in (note or "")


def test_installed_package_json_keeps_string_dependencies_only(tmp_path: Path) -> None:
    from bundler.project import read_installed_package_json

    path = tmp_path / "package.json"
    path.write_text('{"name": "x", "dependencies": {"a": "1", "b": 2}, "optionalDependencies": []}')
    package, note = read_installed_package_json(path, "node_modules/x")
    assert package.dependencies == {"a": "1"} and package.optional == {} and note is None


@pytest.mark.parametrize(("field", "value", "message"), [
    ("engines", {"node": 20}, "engines.node must be a string, found 20"),
    ("prisma", {"schema": ["a"]}, "prisma.schema must be a string"),
])
def test_wrong_types_of_the_fields_bundling_uses(field: str, value: object, message: str) -> None:
    import json

    with pytest.raises(ProjectError, match=message):
        parse_package_json(json.dumps({"name": "x", field: value}), "package.json")
