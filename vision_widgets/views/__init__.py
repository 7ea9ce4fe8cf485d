"""One module per page. A view is built only once the principal may open it."""
