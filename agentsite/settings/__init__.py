"""Settings split by environment: base (shared), dev, test, prod. All read the environment."""
