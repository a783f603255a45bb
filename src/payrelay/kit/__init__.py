"""Domain-free helpers: money, ids, crypto, database, HTTP, pagination, redaction."""
