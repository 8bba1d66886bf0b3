"""The four instrument classes a synthetic song is split into."""

# Kept here rather than imported from model.instruments so that synth stays independent of the model
# package; the names and their order must match the model's instrument vocabulary.
STEMS: tuple[str, ...] = ("bass", "drums", "vocals", "other")

MIXTURE = "mixture"
