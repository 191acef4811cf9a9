"""The package as users install it: a wheel built from this checkout, installed into a new virtual
environment and run from another folder, indexes and answers (it carries its own data files)."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile

from conftest import CORPUS, ROOT

LAC = "How many children were looked after by Middlesbrough as of 10 August 2018?"


def test_the_installed_wheel_indexes_and_answers_from_another_folder(tmp_path):
    source = tmp_path / "source"  # a copy, so that building leaves no build/ or egg-info in the checkout
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "rag", source / "rag", ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--wheel-dir",
            str(dist),
            str(source),
        ],
        check=True,
        cwd=tmp_path,
    )
    wheel = next(dist.glob("rag-*.whl"))
    packaged = set(zipfile.ZipFile(wheel).namelist())
    data_files = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "rag").rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    }
    assert data_files and data_files <= packaged, f"missing from the wheel: {data_files - packaged}"

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        cwd=tmp_path,
    )
    # The dependencies come from this environment (no network): its site-packages joins the new
    # one's path, after it, once the wheel is in (so pip never touches this environment).
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    work = tmp_path / "elsewhere"
    shutil.copytree(CORPUS, work / "corpus")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("RAG_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    where = subprocess.run(
        [str(python), "-c", "import rag; print(rag.__file__)"],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        check=True,
    )
    assert where.stdout.startswith(str(site))
    rag = str(venv / "bin" / "rag")
    built = subprocess.run(
        [rag, "index", "--quiet"], capture_output=True, text=True, cwd=work, env=env, check=False
    )
    assert built.returncode == 0, built.stderr
    assert "5 documents" in built.stdout
    asked = subprocess.run(
        [rag, "ask", LAC, "--json"], capture_output=True, text=True, cwd=work, env=env, check=False
    )
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["status"] == "answered" and "507" in answer["answer"]
    assert answer["citations"][0]["council"] == "Middlesbrough Council"

    # `rag serve` from the wheel runs the chat the package carries (there is no app.py there)
    script = (
        "from streamlit.testing.v1 import AppTest\n"
        "from rag.cli import app_script\n"
        "path = app_script()\n"
        "app = AppTest.from_file(str(path), default_timeout=120).run()\n"
        "assert not app.exception, app.exception\n"
        "assert any('5 reports from' in c.value for c in app.caption), [c.value for c in app.caption]\n"
        "print(path)\n"
        "print(app.title[0].value)\n"
    )
    served = subprocess.run(
        [str(python), "-c", script],
        capture_output=True,
        text=True,
        cwd=work,
        env={**env, "RAG_INDEX_DIR": str(work / "index")},
        check=False,
    )
    assert served.returncode == 0, served.stderr
    path, title = served.stdout.splitlines()[-2:]
    assert path.startswith(str(site)) and path.endswith("rag/app/chat.py")
    assert title == "Ask the council reports"
