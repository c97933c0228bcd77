"""The API's rules around the file: validation, the extension document, pages, idempotency."""
