"""Conformance rules (CONFORMANCE.md) as data, and their evaluators."""
