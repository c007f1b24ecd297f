"""Console helpers: cached database access, the control widgets and chart builders."""
