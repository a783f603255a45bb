"""The merchant's escrow API: release on delivery, holdings per seller."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["escrow"])
