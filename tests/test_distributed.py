"""`rag index --engine ray`: the Ray Data pipeline (rag.distributed) on a local Ray instance with
2 workers builds the same index as the local engine from the same folder of real reports (the
sample corpus, three Kent PDFs and a fake PDF): same chunks in the same order, same documents,
same skipped files, and the same top five passages for real questions."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sqlite3

import faiss
import numpy as np
import pytest
from conftest import CORPUS, DATA, EVAL, need

from rag.build.ingest import build_index
from rag.errors import SettingsError
from rag.index.store import open_index
from rag.retrieval import search
from rag.settings import Settings

HAS_RAY = importlib.util.find_spec("ray") is not None
pytestmark = pytest.mark.ray
needs_ray = pytest.mark.skipif(not HAS_RAY, reason="ray is not installed (pip install -e '.[ray]')")
KENT = DATA / "reports" / "kent-county-council"
KENT_PDFS = [
    "cabinet/2025-01-30/originals/Appendix O - MRP.pdf",
    "cabinet/2025-01-30/originals/24-00115 - EqIA.pdf",
    "full_council/2025-03-13/originals/GAC TOR Update CC March 2025 Final.pdf",
]


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """The same folder indexed by each engine: {engine: (report, settings)}."""
    for name in KENT_PDFS:
        need(KENT / name)
    folder = tmp_path_factory.mktemp("reports") / "reports"
    shutil.copytree(CORPUS, folder)
    for name in KENT_PDFS:
        (folder / "kent" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(KENT / name, folder / "kent" / name)
    (folder / "kent" / "minutes.pdf").write_text("Minutes of the meeting, typed into a text file.\n")
    built = {}
    for engine in ("local", "ray"):
        settings = Settings(index_dir=tmp_path_factory.mktemp(engine) / "index", engine=engine, workers=2)
        built[engine] = (build_index([folder], settings, progress=False), settings)
    return folder, built


def _rows(settings: Settings, sql: str) -> list[tuple]:
    db = sqlite3.connect(settings.index_dir / "chunks.sqlite")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def _questions() -> list[str]:
    lines = need(EVAL / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


@needs_ray
def test_ray_builds_the_same_chunks_and_documents(builds):
    _, built = builds
    (local, local_settings), (ray, ray_settings) = built["local"], built["ray"]
    assert sorted(ray.indexed) == sorted(local.indexed)
    assert len(local.indexed) == 5 + len(KENT_PDFS)
    assert ray.chunks == local.chunks > 100
    assert ray.pages == local.pages > 0

    chunk_ids = "SELECT chunk_id FROM chunks ORDER BY row"
    assert _rows(ray_settings, chunk_ids) == _rows(local_settings, chunk_ids)
    for sql in ("SELECT * FROM chunks ORDER BY row", "SELECT * FROM documents ORDER BY source"):
        assert _rows(ray_settings, sql) == _rows(local_settings, sql)
    # the folder a Kent PDF sits in names its meeting (the same relative path is read on Ray)
    assert _rows(ray_settings, "SELECT meeting FROM documents WHERE source LIKE '%Appendix O%'") == [
        ("Cabinet",)
    ]

    manifests = [open_index(s).manifest for s in (local_settings, ray_settings)]
    for key in ("files", "skipped", "chunker", "embedding_model", "dimension", "documents", "chunks"):
        assert manifests[1][key] == manifests[0][key], key

    vectors = [faiss.read_index(str(s.index_dir / "vectors.faiss")) for s in (local_settings, ray_settings)]
    local_vectors, ray_vectors = (v.reconstruct_n(0, v.ntotal) for v in vectors)
    np.testing.assert_allclose(ray_vectors, local_vectors, atol=1e-5)  # batches differ: rounding only


@needs_ray
def test_a_fake_pdf_is_skipped_with_its_reason_by_both_engines(builds):
    folder, built = builds
    for engine, (report, settings) in built.items():
        reasons = {s["source"]: s["reason"] for s in report.skipped}
        assert reasons == {str(folder / "kent" / "minutes.pdf"): "not a PDF (no %PDF- header)"}, engine
        skipped = open_index(settings).info()["skipped"]
        assert skipped == [
            {"source": str(folder / "kent" / "minutes.pdf"), "reason": "not a PDF (no %PDF- header)"}
        ]


@needs_ray
@pytest.mark.parametrize("retrieval", ["dense", "default"])
def test_ray_and_local_indexes_give_the_same_top_five(builds, retrieval):
    _, built = builds
    indexes = {engine: open_index(settings) for engine, (_, settings) in built.items()}
    settings = built["local"][1]
    questions = _questions()[::3]  # eleven questions, on every sample report
    if retrieval == "dense":
        settings = settings.replace(retrieval="dense", rerank=False)
    else:
        questions = questions[:4]  # hybrid and reranked: the cross-encoder reads 20 passages a question
    for question in questions:
        top = {
            engine: [p.chunk_id for p in search(index, question, settings, k=5).passages]
            for engine, index in indexes.items()
        }
        assert top["ray"] == top["local"], question
        assert len(top["ray"]) == 5


@needs_ray
def test_a_second_ray_build_reuses_every_unchanged_file_without_starting_ray(builds):
    folder, built = builds
    report, settings = built["ray"]
    again = build_index([folder], settings, progress=False)
    assert sorted(again.unchanged) == sorted(report.indexed)
    assert again.indexed == [] and again.embedded_chunks == 0


def test_an_unknown_engine_is_refused_with_the_choices(tmp_path):
    settings = Settings(index_dir=tmp_path / "index", engine="spark")
    with pytest.raises(SettingsError, match="engine must be local or ray, not 'spark'"):
        build_index([CORPUS], settings, progress=False)
