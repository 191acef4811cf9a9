"""The data the code reads at run time (word lists, council names, cue tables): edit these
files, not the code, to change what they list. Declared as package data, so a wheel carries them."""

from pathlib import Path

FOLDER = Path(__file__).parent


def data_file(name: str) -> Path:
    """The path of one of these files."""
    return FOLDER / name
