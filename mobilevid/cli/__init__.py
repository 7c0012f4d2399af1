"""The ``mobilevid`` command line: one file per command."""
