"""Key estimation from a pitch-class profile with the Krumhansl-Schmuckler key profiles."""

import numpy as np

# Krumhansl & Kessler (1982) probe-tone ratings, tonic first.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def estimate_key(profile: np.ndarray) -> tuple[int, str]:
    """Most likely (tonic pitch class, "major"|"minor") for a 12-bin pitch-class profile [12] (C first)."""
    if profile.shape != (12,):
        raise ValueError(f"expected a profile of shape (12,), got {profile.shape}")
    best = (-np.inf, 0, "major")
    for mode, template in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE)):
        for tonic in range(12):
            score = float(np.corrcoef(profile, np.roll(template, tonic))[0, 1])
            if np.isfinite(score) and score > best[0]:
                best = (score, tonic, mode)
    return best[1], best[2]
