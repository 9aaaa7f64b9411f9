"""Numbers in words a non-programmer reads at a glance: "about 3 min", "1.2 million", "420 MB"."""

from __future__ import annotations

import math


def duration(seconds: float) -> str:
    """'45 s', '3 min 20 s', '1 h 05 min'; '–' for an unknown or infinite time."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "–"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s" if minutes < 10 else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def rough_duration(seconds: float) -> str:
    """An estimate rounded the way people say it: 'under a minute', 'about 4 min', 'about 2 h'."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "unknown"
    if seconds < 60:
        return "under a minute"
    if seconds < 3600:
        return f"about {max(1, round(seconds / 60))} min"
    hours = seconds / 3600
    return f"about {hours:.1f} h" if hours < 10 else f"about {round(hours)} h"


def count(n: int) -> str:
    """Thousands separated: 1,234,567."""
    return f"{int(n):,}"


def big_count(n: int) -> str:
    """Large counts in words: '21,000', '1.2 million', '3.4 billion'."""
    n = int(n)
    if n < 100_000:
        return count(n)
    if n < 1_000_000_000:
        return f"{n / 1e6:.2g} million" if n < 10_000_000 else f"{n / 1e6:.0f} million"
    return f"{n / 1e9:.2g} billion"


def memory(num_bytes: int) -> str:
    """'420 MB', '1.3 GB'."""
    mb = num_bytes / 2**20
    if mb < 1000:
        return f"{mb:.0f} MB"
    return f"{num_bytes / 2**30:.1f} GB"


def rate(tokens_per_second: float) -> str:
    if tokens_per_second is None or not math.isfinite(tokens_per_second) or tokens_per_second <= 0:
        return "–"
    if tokens_per_second < 10_000:
        return f"{tokens_per_second:,.0f}"
    return f"{tokens_per_second / 1000:,.0f} thousand"
