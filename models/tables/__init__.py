"""The tables: Meet's own (its migrations own them) and the project's side tables, with their columns."""
