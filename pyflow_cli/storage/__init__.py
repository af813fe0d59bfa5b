"""Storage backends for the engine's ``Store`` port."""
