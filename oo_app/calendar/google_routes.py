"""The browser legs of Google Calendar's OAuth, included by :mod:`oo_app.api`: thin adapters over the domain."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
