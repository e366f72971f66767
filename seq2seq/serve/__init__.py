"""Serving a trained translator over HTTP: a FastAPI app (`app.py`) whose requests are batched
together on the server (`batcher.py`), and a static web page (`static/`). Needs the `serve`
extra: `pip install -e ".[serve]"`."""
