"""The ``kbbuild`` command line: a thin shell that parses flags, calls the library and prints."""
