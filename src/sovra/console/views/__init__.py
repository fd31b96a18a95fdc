"""The console's pages, one module per area: each page finds the visit (session,
caller), requires the action its API twin declares, calls the service, renders a
template. Forms carry the session's CSRF token and answer with a 303."""
