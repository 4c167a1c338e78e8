"""Virtual keys: the SQL store (SQLite or PostgreSQL) with named migrations, and the in-memory registry."""
