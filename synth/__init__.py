"""Synthetic multitrack data engine: songs composed or taken from MIDI, rendered stem by stem."""
