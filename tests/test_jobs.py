"""Index builds on the server's worker thread (rag.jobs): failures keep the upload and say why,
a retry indexes it, removing a report never leaves the folder and the index at odds, and the
time left follows the passages embedded. Real files, model, FAISS and SQLite."""

import pytest
from conftest import CORPUS

from rag.errors import RagError
from rag.index import open_index
from rag.ingest import build_index
from rag.jobs import IndexJobs, JobStatus, describe_progress, progress_fraction
from rag.settings import Settings

YOUTH = "middlesbrough-2021-03-24-executive-member-report-childrens-social-care.txt"


@pytest.fixture
def small_index(small_corpus, tmp_path):
    settings = Settings(corpus_dir=small_corpus, index_dir=tmp_path / "index")
    build_index(None, settings, progress=False)
    return settings


def test_a_failed_update_keeps_the_upload_with_the_reason_and_a_retry_indexes_it(small_index):
    served = open_index(small_index).manifest["built_at"]
    broken = IndexJobs(small_index.replace(embedding_model="/no/such/model"))
    broken.add([(YOUTH, (CORPUS / YOUTH).read_bytes())])
    status = broken.wait(120)
    assert status.state == "failed" and not status.ok
    assert status.message.startswith("The update failed: ") and "/no/such/model" in status.message
    assert status.message.endswith(
        f"The index is unchanged; {YOUTH} is kept under Not indexed, to retry or remove."
    )
    assert [f.name for f in broken.failed()] == [YOUTH]
    assert broken.failed()[0].reason.startswith("not indexed: the index update failed (")
    assert not (small_index.corpus_dir / YOUTH).exists()
    assert open_index(small_index).manifest["built_at"] == served

    jobs = IndexJobs(small_index)
    jobs.retry(YOUTH)
    status = jobs.wait(300)
    assert status.state == "done" and status.message.startswith(f"Added {YOUTH}. Index updated")
    assert jobs.failed() == [] and (small_index.corpus_dir / YOUTH).is_file()
    assert open_index(small_index).info()["documents"] == 3
    with pytest.raises(RagError, match="not in the list of files that could not be indexed"):
        jobs.retry(YOUTH)


def test_removing_a_report_is_refused_outside_the_corpus_folder_or_for_the_only_one(small_corpus, tmp_path):
    (small_corpus / "middlesbrough-2020-04-05-members-briefing-childrens-services-covid.txt").unlink()
    settings = Settings(corpus_dir=small_corpus, index_dir=tmp_path / "index")
    build_index(None, settings, progress=False)
    (only,) = [row["source"] for row in open_index(settings).query("SELECT source FROM documents")]
    jobs = IndexJobs(settings)
    with pytest.raises(RagError, match="is not in the corpus folder"):
        jobs.remove(str(CORPUS / YOUTH))
    with pytest.raises(RagError, match="is the only report in the index: add another before removing it"):
        jobs.remove(only)
    assert jobs.status() is None and len(list(small_corpus.iterdir())) == 1


def test_time_left_follows_the_passages_embedded():
    status = JobStatus(
        1,
        "Adding a.txt",
        stage="Embedding",
        files_total=1,
        files_read=1,
        passages_done=50,
        passages_total=200,
        started=0.0,
        embedding_started=2.0,
    )
    assert status.seconds_left(now=12.0) == 30.0  # 5 passages a second, 150 to go
    assert progress_fraction(status) == 0.25
    assert (
        describe_progress(status, now=12.0) == "Adding a.txt · 50 of 200 passages embedded · about 30 s left"
    )
    more = JobStatus(
        2,
        "Updating the index",
        stage="Embedding",
        files_total=4,
        files_read=2,
        passages_done=50,
        passages_total=100,
        started=0.0,
        embedding_started=2.0,
    )
    assert describe_progress(more, now=12.0) == (
        "Updating the index · 50 of 100 passages embedded · 2 of 4 files read · "
        "about 10 s left for the files read so far"
    )
    assert progress_fraction(more) == 0.25
    assert describe_progress(JobStatus(3, "Updating the index", started=0.0), now=75.0) == (
        "Updating the index · 1 min 15 s so far"
    )
