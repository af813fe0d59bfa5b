"""The ``pyflow`` command line: a thin layer that parses arguments, calls a backend, renders."""
