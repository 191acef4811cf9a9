"""Rendering and OCR of scanned pages: pypdfium2 (a PyPI wheel) against poppler's pdftoppm (a
Debian package, if installed) for rendering, and Tesseract at 150, 200 and 300 dpi: seconds
per page and words read (3+ letters), on the scanned Souldern parish papers.

    .venv/bin/python benchmarks/ocr.py
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from io import BytesIO
from pathlib import Path

import pypdfium2 as pdfium

SCANNED = Path(__file__).resolve().parents[2] / "shared" / "data" / "pdf-torture" / "souldern-parish"
FILES = [
    "2018-08-23 Agenda.pdf",
    "2018-12-18 Agenda.pdf",
    "2019-02-28 Agenda.pdf",
    "2019-05-23 Annual Parish Meeting Agenda.pdf",
    "SPC 201415 external auditor report.pdf",
    "SPC 201516 external auditor certificate.pdf",
    "SPC 201516 notice of conclusion of audit.pdf",
    "SPC 201819 Audit Report.pdf",
]


def render_pdfium(path: Path, dpi: int) -> list[bytes]:
    document = pdfium.PdfDocument(str(path))
    pages = []
    for page in document:
        png = BytesIO()
        page.render(scale=dpi / 72, grayscale=True).to_pil().save(png, format="PNG")
        pages.append(png.getvalue())
    document.close()
    return pages


def render_pdftoppm(path: Path, dpi: int) -> list[bytes]:
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", str(path), f"{folder}/p"], check=True)
        return [p.read_bytes() for p in sorted(Path(folder).glob("p*.png"))]


def ocr(png: bytes) -> str:
    done = subprocess.run(
        ["tesseract", "stdin", "stdout", "-l", "eng", "--psm", "3"],
        input=png,
        check=False,
        capture_output=True,
        env={"OMP_THREAD_LIMIT": "1", "PATH": "/usr/bin:/bin"},
    )
    return done.stdout.decode("utf-8", "replace")


def main() -> None:
    paths = [SCANNED / name for name in FILES if (SCANNED / name).exists()]
    renderers = {"pypdfium2": render_pdfium}
    if shutil.which("pdftoppm"):
        renderers["pdftoppm"] = render_pdftoppm
    print("| renderer | dpi | pages | render s/page | OCR s/page | words read |")
    print("|---|---|---|---|---|---|")
    for name, render in renderers.items():
        for dpi in (150, 200, 300):
            started = time.perf_counter()
            images = [png for path in paths for png in render(path, dpi)]
            rendering = time.perf_counter() - started
            started = time.perf_counter()
            words = sum(len(re.findall(r"[A-Za-z]{3,}", ocr(png))) for png in images)
            reading = time.perf_counter() - started
            print(
                f"| {name} | {dpi} | {len(images)} | {rendering / len(images):.2f} | "
                f"{reading / len(images):.2f} | {words} |"
            )


if __name__ == "__main__":
    main()
