"""The game catalog: every module here that defines a ``harness.Game`` at module level is discovered
by ``harness list`` and checked by the default check matrix. Add a game by adding a file."""
