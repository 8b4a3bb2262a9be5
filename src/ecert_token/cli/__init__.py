"""The ``ecert`` command line: keygen, mint, verify, demo and more."""
