"""The Streamlit chat (`streamlit run app.py`, or `rag serve`). The app itself is rag/app/chat.py,
inside the package, so that an installed wheel serves it too; Streamlit runs this script again on
every interaction, and run_module runs the app's code afresh each time, as it would run a script."""

import runpy

runpy.run_module("rag.app.chat", run_name="__main__")
