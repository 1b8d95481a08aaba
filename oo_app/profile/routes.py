"""HTTP routes of ``oo_app.profile``, included by :mod:`oo_app.api`."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
