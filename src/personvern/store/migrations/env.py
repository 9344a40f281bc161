"""Alembic environment: runs the migrations on the engine personvern hands over (no URL in any ini file)."""

from alembic import context

from personvern.store.tables import metadata

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
