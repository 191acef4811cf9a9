"""Serving an index that is rebuilt while it serves: one open index shared by every thread of a
long-running process (the app's server, a load test), reopened once when a rebuild is swapped in,
by this process or another (`rag index`).

A rebuild replaces the index folder by renames (rag.index.store.write_index); an Index already open
keeps reading its own files, so a query that started on the old build finishes on it. The old
Index is never closed here: each query holds it while it runs, and it is freed (its files
closed) when the last one lets go."""

from __future__ import annotations

import os
import threading
import time

from rag.errors import IndexMismatchError, IndexMissingError
from rag.index.folder import MANIFEST
from rag.index.store import Index, open_index
from rag.settings import Settings

SWAP_WAIT_S = 1.0
"""How long the folder may be missing before it counts as gone: a swap leaves it missing
between its two renames, for microseconds."""


class CurrentIndex:
    """The index at settings.index_dir as it is now. `get()` costs two stat calls when nothing
    has changed; after a rebuild, the first caller opens the new build while the others go on
    with the old one until it is ready."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.opens = 0
        """How many times a build was opened (1 + the rebuilds seen)."""
        self._current: tuple[Index, tuple] | None = None
        self._opening = threading.Lock()

    def get(self) -> Index:
        """The open index of the latest build; raises IndexMissingError when there is none
        and IndexMismatchError when it cannot be read with these settings."""
        current = self._current
        stamp = self._stamp()
        if current is not None and current[1] == stamp:
            return current[0]
        if current is not None and not self._opening.acquire(blocking=False):
            return current[0]  # another thread is opening the new build
        if current is None:
            self._opening.acquire()
        try:
            current = self._current
            if current is not None and current[1] == self._stamp():
                return current[0]  # opened by the thread that held the lock before us
            if current is not None and stamp is None and not self._reappears():
                self._current = None  # the folder was removed, not swapped
            index, stamp = self._open()
            self._current = (index, stamp)
            self.opens += 1
            return index
        finally:
            self._opening.release()

    def _stamp(self) -> tuple | None:
        """What changes when a build is swapped in: the folder's and the manifest's identity."""
        try:
            folder = os.stat(self.settings.index_dir)
            manifest = os.stat(self.settings.index_dir / MANIFEST)
        except FileNotFoundError:
            return None
        return folder.st_dev, folder.st_ino, manifest.st_ino, manifest.st_mtime_ns

    def _reappears(self) -> bool:
        deadline = time.monotonic() + SWAP_WAIT_S
        while time.monotonic() < deadline:
            if self._stamp() is not None:
                return True
            time.sleep(0.005)
        return False

    def _open(self) -> tuple[Index, tuple]:
        """Open the build in the folder, checking that the folder was not swapped while its
        files were being opened (else the manifest and the files could be of two builds).
        A failure while the folder changed is a swap in progress: try again."""
        for _ in range(100):
            before = self._stamp()
            try:
                index = open_index(self.settings)
            except (IndexMissingError, IndexMismatchError):
                changed = self._stamp() != before
                if not changed and not (before is None and self._current is not None and self._reappears()):
                    raise
                continue
            if before is not None and self._stamp() == before:
                return index, before
            index.close()
        raise IndexMismatchError(
            f"the index at {self.settings.index_dir} keeps changing while it is opened: "
            "is more than one `rag index` writing it?"
        )
