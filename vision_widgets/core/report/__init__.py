"""Reports rendered as files: pure Python, no UI library (a service or the CLI writes them)."""
