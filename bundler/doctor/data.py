"""platforms/databases.toml, loaded once and checked: Prisma's pool defaults, Lambda's memory -> vCPU steps,
platform defaults per function, and database max_connections (self-hosted, RDS formulas, Aurora and managed
services), each with its source."""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from bundler.resources import data_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DATA_FILE = data_file("platforms", "databases.toml")


@dataclass(frozen=True)
class PlatformDefaults:
    memory_mb: int
    memory_source: str
    concurrency: int
    concurrency_source: str
    timeout_s: int
    timeout_source: str
    cpus: int | None  # a fixed CPU count (GCF), else Lambda's memory steps
    cpus_source: str


@dataclass(frozen=True)
class MaxConnections:
    value: int
    source: str
    reserved: int = 0  # connections kept for superusers / admins
    note: str = ""
    assumed: bool = False  # the server's default, not the user's database


@dataclass(frozen=True)
class DoctorData:
    raw: Mapping[str, Any]

    @property
    def pool_source(self) -> str:
        return str(self.raw["prisma"]["source"])

    @property
    def photon_note(self) -> str:
        return str(self.raw["prisma"]["photon_note"])

    def default_pool(self, cpus: int) -> int:
        p = self.raw["prisma"]
        return int(p["pool_cpu_factor"]) * cpus + int(p["pool_constant"])

    def prisma_default(self, name: str) -> int:
        return int(self.raw["prisma"][f"{name}_default_s"])

    def lambda_vcpus(self, memory_mb: int) -> int:
        """Lambda vCPUs for a memory setting (at least one; the OS shows a whole CPU below 1,769 MB)."""
        cpu = self.raw["lambda_cpu"]
        for step in cpu["steps"]:
            if memory_mb <= int(step["up_to_mb"]):
                return int(step["vcpus"])
        return int(cpu["max_vcpus"])

    @property
    def lambda_cpu_source(self) -> str:
        return str(self.raw["lambda_cpu"]["source"])

    def platform(self, key: str) -> PlatformDefaults:
        p = self.raw["platform"][key]
        return PlatformDefaults(memory_mb=int(p["memory_mb"]), memory_source=str(p["memory_source"]),
                                concurrency=int(p["concurrency"]), concurrency_source=str(p["concurrency_source"]),
                                timeout_s=int(p["timeout_s"]), timeout_source=str(p["timeout_source"]),
                                cpus=int(p["cpus"]) if "cpus" in p else None, cpus_source=str(p.get("cpus_source", "")))

    def server_default(self, engine: str) -> MaxConnections:
        s = self.raw["server"][engine]
        return MaxConnections(int(s["max_connections"]), str(s["source"]), int(s["reserved"]),
                              note="the server's default: pass --max-connections, --db-instance or --check-database "
                                   "for yours", assumed=True)

    def instance_classes(self) -> list[str]:
        return sorted(self.raw["rds"]["memory_gib"])

    def rds(self, engine: str, instance: str) -> MaxConnections | None:
        """RDS's default max_connections for an instance class (formula on nominal memory)."""
        gib = self.raw["rds"]["memory_gib"].get(instance)
        if gib is None:
            return None
        f = self.raw["rds"][engine]
        value = int(gib) * (1 << 30) // int(f["divisor"])
        if "cap" in f:
            value = min(value, int(f["cap"]))
        return MaxConnections(value, f"{f['source']}; {instance} = {gib} GiB ({self.raw['rds']['memory_source']})",
                              note=str(self.raw["rds"]["note"]))

    def aurora(self, engine: str, instance: str) -> MaxConnections | None:
        if engine == "postgresql":
            found = self.rds("postgresql", instance)
            return None if found is None else MaxConnections(found.value, "Aurora PostgreSQL uses RDS's formula: "
                                                             + found.source, note=found.note)
        table = self.raw["aurora"]["mysql"]
        value = table["max_connections"].get(instance)
        return None if value is None else MaxConnections(int(value), str(table["source"]))

    def services(self) -> list[str]:
        return sorted(self.raw["managed"])

    def managed(self, service: str, size: str | None) -> tuple[MaxConnections | None, str, str]:
        """(max_connections for the size or None, the service's pooler advice, the source)."""
        m = self.raw["managed"][service]
        table = m["max_connections"]
        value = table.get(size) if size is not None else None
        sizes = ", ".join(table) or "none listed"
        found = None if value is None else MaxConnections(int(value), f"{m['source']}; size {size}")
        return found, str(m["pooler"]), f"{m['source']} (sizes: {sizes})"


@lru_cache(maxsize=1)
def load() -> DoctorData:
    with DATA_FILE.open("rb") as fh:
        raw = tomllib.load(fh)
    check(raw)
    return DoctorData(raw)


def check(raw: Mapping[str, Any]) -> None:
    """Invariants: the vCPU steps are the multiples of mb_per_vcpu (capped), increasing; every table has a source."""
    cpu = raw["lambda_cpu"]
    steps = cpu["steps"]
    for i, step in enumerate(steps, start=1):
        expected = min(i * int(cpu["mb_per_vcpu"]), int(cpu["max_memory_mb"]))
        assert int(step["up_to_mb"]) == expected, f"databases.toml lambda_cpu step {i}: {step} != {expected} MB"
        assert int(step["vcpus"]) == i
    assert len(steps) == int(cpu["max_vcpus"]) == math.ceil(int(cpu["max_memory_mb"]) / int(cpu["mb_per_vcpu"]))
    for section in ("platform", "server", "managed"):
        for name, entry in raw[section].items():
            assert any(k.endswith("source") for k in entry), f"databases.toml [{section}.{name}] has no source"
    for engine in ("postgresql", "mysql", "mariadb"):
        assert raw["rds"][engine]["source"] and raw["server"][engine]["source"]
