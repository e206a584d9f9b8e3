"""The explicit registry of platform adapters: name -> the module and class that implement it.

No registration by import side effect: this dict is the list. Adapters are imported when asked for, so a
command loads only its own platform's module (the no-op rebuild check runs before anything heavy).
"""

from __future__ import annotations

import importlib
from typing import Literal, get_args

from platforms.base import PlatformAdapter

PlatformName = Literal["lambda", "gcf", "netlify", "now", "vercel", "up", "serverless"]

REGISTRY: dict[PlatformName, tuple[str, str]] = {
    "lambda": ("platforms.aws_lambda", "LambdaAdapter"),
    "gcf": ("platforms.gcf", "GcfAdapter"),
    "netlify": ("platforms.netlify", "NetlifyAdapter"),
    "now": ("platforms.now", "NowAdapter"),
    "vercel": ("platforms.vercel", "VercelAdapter"),
    "up": ("platforms.up", "UpAdapter"),
    "serverless": ("platforms.serverless", "ServerlessAdapter"),
}
assert tuple(REGISTRY) == get_args(PlatformName)


def adapter(name: str) -> PlatformAdapter:
    """The adapter of a registered platform."""
    module, cls = REGISTRY[name]  # type: ignore[index]
    made: PlatformAdapter = getattr(importlib.import_module(module), cls)()
    return made
