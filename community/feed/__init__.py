"""The daily feed: one short voice or post each morning, its keyword, the podcast."""
