"""Framework-free foundations shared by every app: the error tree and small value helpers."""
