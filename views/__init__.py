"""DuckDB SQL views over the projection tables, one .sql file per view."""
