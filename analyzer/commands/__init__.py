"""Subcommands of the CLI; each module has ``add_parser(subparsers)`` setting ``func``."""
