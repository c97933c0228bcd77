"""The `meet-external` command line: its parser, the operators' actions, `serve --demo`."""
