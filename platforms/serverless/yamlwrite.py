"""Writing the serverless.yml copy: package.artifact set per function and for the shared zip on the ruamel
round-trip document, comments, key order and quoting kept."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from platforms.configfiles import YamlDoc, load_yaml_text
from platforms.slsvars import Key


def function_nodes(data: Any, path: Path) -> dict[str, tuple[Key, Any]]:
    """name -> (keys, its mapping in the loaded document), for setting package.artifact."""
    raw = data.get("functions") if isinstance(data, Mapping) else None
    blocks = [(raw, ("functions",))] if isinstance(raw, Mapping) else \
        [(b, ("functions", i)) for i, b in enumerate(raw)] if isinstance(raw, list) else []
    return {name: ((*keys, name), node) for block, keys in blocks if isinstance(block, Mapping)
            for name, node in block.items()}


def set_artifact(owner: Any, artifact: str) -> None:
    """Set owner.package.artifact, keeping the comments and blank lines that follow the owner's last entry
    where they were (ruamel attaches them to the last scalar; a key appended after it would come after them)."""
    from ruamel.yaml.comments import CommentedMap

    package = owner.get("package")
    if isinstance(package, CommentedMap) and "artifact" in package:
        package["artifact"] = artifact
    elif isinstance(package, CommentedMap):
        append_key(package, "artifact", artifact)
    else:
        new = CommentedMap()
        new["artifact"] = artifact
        if "package" in owner:
            owner["package"] = new
        else:
            append_key(owner, "package", new)


def append_key(mapping: Any, key: str, value: Any) -> None:
    token = _take_trailing(mapping)
    mapping[key] = value
    if token is not None:
        container, slot_key, index = _last_slot(mapping) or (None, None, 0)
        if container is not None:
            entry = container.ca.items.setdefault(slot_key, [None, None, None, None])
            entry[index] = token


def _last_slot(node: Any) -> tuple[Any, Any, int] | None:
    """(container, key or index, slot) of the comment that follows the node's last scalar."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    while True:
        if isinstance(node, CommentedMap) and len(node):
            key = list(node.keys())[-1]
            child = node[key]
            if isinstance(child, (CommentedMap, CommentedSeq)) and len(child):
                node = child
                continue
            return node, key, 2
        if isinstance(node, CommentedSeq) and len(node):
            child = node[-1]
            if isinstance(child, (CommentedMap, CommentedSeq)) and len(child):
                node = child
                continue
            return node, len(node) - 1, 0
        return None


def _take_trailing(node: Any) -> Any:
    """Detach the comment lines after the node's last scalar (its end-of-line comment stays)."""
    slot = _last_slot(node)
    if slot is None:
        return None
    container, key, index = slot
    entry = container.ca.items.get(key)
    token = entry[index] if entry and len(entry) > index else None
    if token is None:
        return None
    value = token.value
    if value.startswith("#"):  # "# eol comment\n" + what follows
        eol, _, rest = value.partition("\n")
        if not rest:
            return None
        kept = copy.copy(token)
        kept.value = eol + "\n"
        entry[index] = kept
        moved = copy.copy(token)
        moved.value = "\n" + rest
        return moved
    entry[index] = None
    return token


def lossy_reason(ydoc: YamlDoc) -> str:
    """Which line a rewrite would change, for the summary."""
    again = load_yaml_text(ydoc.text, ydoc.path).dump().splitlines()
    for n, (old, new) in enumerate(zip(ydoc.text.splitlines(), again), start=1):
        if old != new:
            return (f"rewriting it would change line {n} ({old.strip()!r} -> {new.strip()!r}) besides "
                    "package.artifact, so its layout is not kept exactly")
    return "rewriting it would change its layout besides package.artifact"
