"""Thin operation handlers, one module per tag of openapi.yaml."""
