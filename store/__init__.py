"""Store: a curated micro-store with limited drops that never oversell."""
