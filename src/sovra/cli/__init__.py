"""The ``sovra`` command line (Typer). Commands are thin: parse, call a service, render."""
