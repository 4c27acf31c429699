"""How a behaviour is run: drawing cases, counting examples, deciding when to stop."""
