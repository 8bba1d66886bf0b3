"""Tests of the synth package."""
