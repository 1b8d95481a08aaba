"""Row ids are never reused: a person deleted today cannot lend their id (or their tips' ids) to someone new.

SQLite without AUTOINCREMENT hands out max(rowid) + 1, so deleting the newest person frees their id for the next one;
PostgreSQL's sequences never go back. Checked on both, after the migrations, as deployments run them.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from oo_app.models import Tip, User


def _person(session: Session, email: str) -> User:
    user = User(email=email)
    session.add(user)
    session.commit()
    return user


def test_a_deleted_persons_id_is_never_given_to_someone_new(any_database: Session) -> None:
    first = _person(any_database, "first@example.com")
    gone = _person(any_database, "gone@example.com")
    gone_id = gone.id
    any_database.exec(sa.delete(User).where(User.id == gone_id))
    any_database.commit()

    newcomer = _person(any_database, "newcomer@example.com")

    assert newcomer.id > gone_id > first.id, f"the newcomer got id {newcomer.id}, the deleted person's was {gone_id}"


def test_a_deleted_persons_tip_ids_are_never_reused(any_database: Session) -> None:
    person = _person(any_database, "tips@example.com")
    tip = Tip(user_id=person.id, text="Finish one task.", prompt_version="v", model_alias="a", model="m", policy="p")
    any_database.add(tip)
    any_database.commit()
    tip_id = tip.id
    any_database.exec(sa.delete(User).where(User.id == person.id))
    any_database.commit()
    any_database.expunge_all()  # the deleted rows' objects

    other = _person(any_database, "other@example.com")
    again = Tip(user_id=other.id, text="Finish one task.", prompt_version="v", model_alias="a", model="m", policy="p")
    any_database.add(again)
    any_database.commit()

    assert again.id > tip_id


def test_every_table_with_an_integer_id_autoincrements_on_sqlite(session: Session) -> None:
    created = dict(session.exec(sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")).all())
    integer_ids = [
        table.name
        for table in SQLModel.metadata.sorted_tables
        if [column.name for column in table.primary_key.columns] == ["id"] and isinstance(table.c.id.type, sa.Integer)
    ]
    assert integer_ids, "no table with an integer id?"
    lacking = [name for name in integer_ids if "AUTOINCREMENT" not in created[name].upper()]
    assert lacking == [], f"these tables may reuse the ids of deleted rows: {lacking}"


def test_the_migration_keeps_every_row_and_link_of_an_existing_sqlite_database(tmp_path) -> None:
    from alembic import command

    from oo_app.db import alembic_config, make_engine

    url = f"sqlite:///{tmp_path / 'before.db'}"
    command.upgrade(alembic_config(url), "0005")
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO users (id, email, display_name, tz, role, created_at) VALUES "
            "(1, 'a@example.com', '', 'UTC', 'user', '2026-11-20 12:00:00'), "
            "(2, 'b@example.com', '', 'UTC', 'user', '2026-11-20 12:00:00')"
        )
        columns = (
            "user_id, text, kind, prompt_version, model_alias, model, sources, policy, shadow, latency_ms, "
            "prompt_tokens, completion_tokens, created_at"
        )
        values = "'Finish one task.', 'todo', 'v', 'a', 'm', '[]', 'p', 0, 0, 0, 0, '2026-11-20 12:00:00'"
        connection.exec_driver_sql(f"INSERT INTO tips (id, {columns}) VALUES (7, 2, {values})")
        connection.exec_driver_sql(f"INSERT INTO tips (id, shadow_of, {columns}) VALUES (8, 7, 2, {values})")
    before = _dump(engine)

    command.upgrade(alembic_config(url), "0006")  # the rebuild; later migrations add columns, which _dump would see

    assert _dump(engine) == before, "rebuilding the tables lost or changed rows"
    with engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM users WHERE id = 2")
        assert connection.exec_driver_sql("SELECT count(*) FROM tips").scalar_one() == 0, "the cascade is gone"
        connection.exec_driver_sql(
            "INSERT INTO users (email, display_name, tz, role, created_at) VALUES "
            "('c@example.com', '', 'UTC', 'user', '2026-11-20 12:00:00')"
        )
        assert connection.exec_driver_sql("SELECT max(id) FROM users").scalar_one() == 3
    engine.dispose()


def _dump(engine: sa.Engine) -> dict[str, list[tuple]]:
    with engine.connect() as connection:
        return {
            table: [tuple(row) for row in connection.exec_driver_sql(f"SELECT * FROM {table} ORDER BY 1")]
            for table in ("users", "tips")
        }
