"""Where the data lives: the connection, the dialect, prepared statements, the layout and its upgrade."""
