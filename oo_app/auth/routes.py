"""HTTP routes of ``oo_app.auth``, included by :mod:`oo_app.api`."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
