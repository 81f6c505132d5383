"""Real-server harnesses shared by the integration tests and the benchmark."""
