"""Classic single-agent environments (aliases of :class:`rl_bridge.env.GridEnv`)."""
