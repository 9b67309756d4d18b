"""Adapter versions on disk: ``<adapter_dir>/<name>/<version>/``.

A version folder holds the PEFT adapter (``adapter_config.json``,
``adapter_model.safetensors``), the head (``head.safetensors``), ``labels.json``,
``calibration.json``, ``training.json`` (settings, base model, parent, data hash),
``metrics.json`` and ``manifest.json`` (SHA-256 of every other file). A version whose files
do not match its manifest is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


class _JsonConfig(Protocol):
    def to_json(self) -> Any: ...


class TrainedModel(Protocol):
    """What saving reads of a trained model (``bot.intents.train.TrainedModel`` has it): storage
    names the shape only, so serving never imports the trainer (or torch, until a load)."""

    @property
    def network(self) -> Any: ...  # ``encoder`` (a PEFT model) and ``head`` (a CosineHead)
    @property
    def labels(self) -> list[str]: ...
    @property
    def calibration(self) -> _JsonConfig: ...
    @property
    def config(self) -> _JsonConfig: ...
    @property
    def base_model(self) -> str: ...
    @property
    def trainable_parameters(self) -> int: ...
    @property
    def train_seconds(self) -> float: ...
    @property
    def device(self) -> str: ...
    @property
    def bf16(self) -> bool: ...


MANIFEST = "manifest.json"
_VERSION = re.compile(r"^v(\d+)$")


class AdapterError(RuntimeError):
    """An adapter version is missing, incomplete or has been tampered with."""


@dataclass(frozen=True)
class AdapterRef:
    name: str
    version: str
    path: Path

    @property
    def id(self) -> str:
        return f"{self.name}/{self.version}"


def list_versions(adapter_dir: Path, name: str) -> list[AdapterRef]:
    family = Path(adapter_dir) / name
    if not family.is_dir():
        return []
    found = [
        (int(match.group(1)), child.name)
        for child in family.iterdir()
        if child.is_dir() and (match := _VERSION.match(child.name)) and (child / MANIFEST).is_file()
    ]
    return [AdapterRef(name, version, family / version) for _, version in sorted(found)]


def resolve(adapter_dir: Path, name: str, version: str | None = None) -> AdapterRef:
    versions = list_versions(adapter_dir, name)
    if not versions:
        raise AdapterError(f"no adapter versions under {Path(adapter_dir) / name}; run `bot train`")
    if version is None:
        return versions[-1]
    for ref in versions:
        if ref.version == version:
            return ref
    known = ", ".join(ref.version for ref in versions)
    raise AdapterError(f"adapter {name}/{version} not found (known versions: {known})")


def next_version(adapter_dir: Path, name: str) -> str:
    versions = list_versions(adapter_dir, name)
    last = int(versions[-1].version[1:]) if versions else 0
    return f"v{last + 1}"


def save(
    trained: TrainedModel,
    adapter_dir: Path,
    name: str,
    *,
    data_hash: str,
    metrics: dict[str, Any],
    parent: str | None = None,
) -> AdapterRef:
    """Write a new version atomically: into a temporary folder first, renamed when complete."""
    from safetensors.torch import save_file

    version = next_version(adapter_dir, name)
    final = Path(adapter_dir) / name / version
    staging = final.with_name(f".{version}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)

    peft_model: Any = trained.network.encoder
    # Record the configured id, not a path inside this machine's site-packages.
    peft_model.peft_config["default"].base_model_name_or_path = trained.base_model
    peft_model.save_pretrained(str(staging), save_embedding_layers=False)
    head = trained.network.head
    save_file(
        {
            "prototypes": head.prototypes.detach().cpu().contiguous(),
            "log_scale": head.log_scale.detach().cpu().reshape(1),
        },
        str(staging / "head.safetensors"),
    )
    _write_json(staging / "labels.json", trained.labels)
    _write_json(staging / "calibration.json", trained.calibration.to_json())
    _write_json(
        staging / "training.json",
        {
            "name": name,
            "version": version,
            "parent": parent,
            "base_model": trained.base_model,
            "data_hash": data_hash,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "trainable_parameters": trained.trainable_parameters,
            "train_seconds": round(trained.train_seconds, 1),
            "device": trained.device,
            "bf16": trained.bf16,
            "config": trained.config.to_json(),
        },
    )
    _write_json(staging / "metrics.json", metrics)
    _write_json(staging / MANIFEST, {"sha256": file_hashes(staging)})
    staging.rename(final)
    return AdapterRef(name, version, final)


def file_hashes(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }


def verify(ref: AdapterRef) -> None:
    recorded = read_json(ref.path / MANIFEST)["sha256"]
    actual = file_hashes(ref.path)
    if recorded != actual:
        changed = sorted(set(recorded.items()) ^ set(actual.items()))
        names = sorted({name for name, _ in changed})
        raise AdapterError(f"adapter {ref.id} does not match its manifest: {', '.join(names)}")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def load_head_tensors(ref: AdapterRef) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(ref.path / "head.safetensors"))


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=False) + "\n", encoding="utf-8")
