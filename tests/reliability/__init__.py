"""Reliability tests for issue 8: faults injected on purpose (kill -9, NaN, damaged and fuzzed files)."""
