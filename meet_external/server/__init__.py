"""The server process: uvicorn's settings, slow clients, handler threads, quiet dependency warnings."""
