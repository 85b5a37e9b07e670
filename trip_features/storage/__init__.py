"""Storage edges: reading trips, the table layout, atomic publication, footer profiles."""
