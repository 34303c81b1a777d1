"""The HTTP side: app factory, settings, lifespan, plain routes and the CLI."""
