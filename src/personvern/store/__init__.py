"""Storage: SQLAlchemy tables, encrypted repositories, the unit of work and Alembic migrations."""
