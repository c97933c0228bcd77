"""The operations on rooms: made, listed, found, changed, shared, deleted, and who may see them."""
