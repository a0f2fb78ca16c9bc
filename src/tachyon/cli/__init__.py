"""The tachyon command line: parses, calls the library, renders. A leaf: nothing imports it."""
