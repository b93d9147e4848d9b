"""Games, the user's functions, the catalog and their identities (the layer above harness.base)."""
