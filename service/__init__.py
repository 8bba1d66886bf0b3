"""The retrieval service: FastAPI app, retrieval and alignment, web page, and the `serve` command."""

__version__ = "0.1.0"
