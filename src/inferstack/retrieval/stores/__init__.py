"""Vector store implementations, one module each, all behind `VectorStore` (see `base.py`)."""
