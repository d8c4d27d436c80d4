"""Dependencies shared by the routers: the settings and the database of this app."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from utter.db import Database
from utter.settings import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_db)]
