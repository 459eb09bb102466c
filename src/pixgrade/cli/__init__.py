"""Command line interface: ``pixgrade <command>``. One module per command, each with ``add_parser`` and ``run``."""
