"""Music analysis: tempo, beats, key, pitch classes and the alignment signatures of waveforms, and the
musical compatibility of two of them; one implementation for indexing, queries, evaluation and scripts."""
