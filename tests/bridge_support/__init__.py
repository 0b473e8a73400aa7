"""Real brokers and worker processes for the bridge's tests and benchmark."""
