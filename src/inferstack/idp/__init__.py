"""Intelligent document processing: scans and PDFs to schema-valid fields, verified, scored and routed."""
