"""Runs Streamlit for `rag serve` without contacting anything outside this machine.

Streamlit guesses the machine's addresses for its start banner and its allowed-origins check:
the external one by an HTTP request to checkip.amazonaws.com, the internal one by a UDP
`connect` to 8.8.8.8. `rag serve` prints its own address, and the chat's own page is
same-origin (allowed without either guess), so both guesses are turned off here, before
Streamlit starts: `python -m rag.launch run app.py --server.port ...` takes Streamlit's
arguments."""

from __future__ import annotations

import sys


def _no_guess() -> None:
    return None


def main(argv: list[str] | None = None) -> int:
    from streamlit import net_util
    from streamlit.web import cli

    net_util.get_external_ip = _no_guess
    net_util.get_internal_ip = _no_guess
    return cli.main(args=list(sys.argv[1:] if argv is None else argv), prog_name="streamlit")


if __name__ == "__main__":
    sys.exit(main())
