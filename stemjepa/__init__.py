"""The `stemjepa` command line: one entry point fronting synth, train, index, serve, eval, bench and demo."""
