"""Command-line commands. Each module registers its sub-commands on the parser built in `bot.__main__`."""
