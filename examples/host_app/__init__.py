"""A reference FastAPI host app over `AsyncScriptsModule` (see README.md here)."""
