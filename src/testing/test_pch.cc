// Translation unit that owns the tests' precompiled header.
