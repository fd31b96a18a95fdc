"""One module per room's command group."""
