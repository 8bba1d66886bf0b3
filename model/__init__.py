"""Stem-JEPA model: audio front end, ViT encoder, conditioned predictor, training and the Embedder."""
