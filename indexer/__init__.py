"""Catalogue indexer: stems to FAISS vectors, a frame store and SQL metadata; `indexer.catalog` is its read side
and `indexer.jobs` the one door to index jobs."""
