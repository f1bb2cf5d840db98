"""The classic import paths, kept working as thin aliases of :mod:`rl_bridge`."""
