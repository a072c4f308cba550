"""ClickHouse projections: schema migrations, the projector, read-model queries and rebuild."""
