"""Observe: scraping, the canonical metric catalog, collectors and imports."""
