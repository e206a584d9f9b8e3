"""The JavaScript / TypeScript parsers (tree-sitter), shared by the doctor's placement check and the tracer."""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=4)
def language(kind: str) -> Any:
    """The tree-sitter Language for "javascript", "typescript" or "tsx"."""
    import tree_sitter

    if kind == "javascript":
        import tree_sitter_javascript as grammar

        return tree_sitter.Language(grammar.language())
    import tree_sitter_typescript as ts_grammar

    return tree_sitter.Language(ts_grammar.language_tsx() if kind == "tsx" else ts_grammar.language_typescript())


@lru_cache(maxsize=4)
def parser(kind: str) -> Any:
    import tree_sitter

    return tree_sitter.Parser(language(kind))


def language_for(path: str) -> str:
    if path.endswith(".tsx"):
        return "tsx"
    if path.endswith((".ts", ".mts", ".cts")):
        return "typescript"
    return "javascript"
