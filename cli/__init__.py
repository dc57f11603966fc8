"""The ``juicedb`` command line: thin typer shells over the Python API, one command per module."""
