"""Small repositories over the lineage tables, one module per concept."""
