"""The explicit registry of platform adapters: name -> adapter. No registration by import side effect."""

from __future__ import annotations

from typing import Literal

from platforms.aws_lambda import LambdaAdapter
from platforms.base import PlatformAdapter
from platforms.gcf import GcfAdapter
from platforms.netlify import NetlifyAdapter
from platforms.now import NowAdapter
from platforms.serverless import ServerlessAdapter
from platforms.up import UpAdapter
from platforms.vercel import VercelAdapter

PlatformName = Literal["lambda", "gcf", "netlify", "now", "vercel", "up", "serverless"]

ADAPTERS: dict[str, PlatformAdapter] = {
    "lambda": LambdaAdapter(),
    "gcf": GcfAdapter(),
    "netlify": NetlifyAdapter(),
    "now": NowAdapter(),
    "vercel": VercelAdapter(),
    "up": UpAdapter(),
    "serverless": ServerlessAdapter(),
}
