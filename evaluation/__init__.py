"""Measurement side of the product: retrieval, alignment and content evaluations, baselines and benchmarks."""
