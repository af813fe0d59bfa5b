"""A user's project as pyflow sees it.

``config`` reads wrangler.toml / .json / .jsonc (plus vars and .dev.vars secrets) once into frozen
dataclasses; ``loader`` imports the entry module those name, with ``workers`` resolving to pyflow.
"""
