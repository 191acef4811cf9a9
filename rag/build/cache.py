"""The build cache: every file a build has read, chunked and embedded, kept in a sibling folder
of the index (`.index.cache/`) until the new index is swapped in. A build that is interrupted
(Ctrl-C, kill) leaves the previous index serving, and the next build takes the finished files
from here instead of reading and embedding them again. One JSON file (document and chunk rows)
and one .npy file (vectors, loaded with allow_pickle=False) per file; nothing is pickled."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np


class BuildCache:
    def __init__(self, folder: Path, fingerprint: str):
        self.folder = folder
        self.fingerprint = fingerprint
        """Settings that change what a file becomes (model, chunker, format, OCR): another
        fingerprint never reads these entries."""

    @property
    def key(self) -> str:
        """A short name for the fingerprint, kept with skipped files in the manifest."""
        return hashlib.sha256(self.fingerprint.encode()).hexdigest()[:16]

    def _key(self, source: str, sha256: str) -> str:
        return hashlib.sha256(f"{self.fingerprint}\0{source}\0{sha256}".encode()).hexdigest()[:32]

    def get(self, source: str, sha256: str) -> tuple[dict, np.ndarray | None] | None:
        """(record, vectors) stored for this file, or None. A skipped file has no vectors."""
        key = self._key(source, sha256)
        try:
            record = json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
            vectors = None
            if "skipped" not in record:
                vectors = np.load(self.folder / f"{key}.npy", allow_pickle=False)
        except (OSError, ValueError):
            return None
        return record, vectors

    def put(self, source: str, sha256: str, record: dict, vectors: np.ndarray | None = None) -> None:
        """Store a finished file; each part is written aside and renamed, vectors first, so a
        kill leaves either a whole entry or none."""
        self.folder.mkdir(parents=True, exist_ok=True)
        key = self._key(source, sha256)
        if vectors is not None:
            partial = self.folder / f"{key}.partial.npy"
            np.save(partial, vectors, allow_pickle=False)
            os.replace(partial, self.folder / f"{key}.npy")
        partial = self.folder / f"{key}.partial.json"
        partial.write_text(json.dumps(record), encoding="utf-8")
        os.replace(partial, self.folder / f"{key}.json")

    def __len__(self) -> int:
        return len(list(self.folder.glob("*[0-9a-f].json"))) if self.folder.exists() else 0

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
