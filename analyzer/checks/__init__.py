"""Conformance rules as data (docs/rules.md is written from them), and their evaluators."""
