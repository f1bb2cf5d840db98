"""Classic multi-agent environments (aliases of :mod:`rl_bridge.parallel`)."""
