"""The report: its data model and its writers (JSON, JUnit, HTML, terminal)."""
