"""How a controller operation hands its result back for rendering.

A write renders its object inside its own transaction, so the answer shows the state the write
left (PENDING_CREATE, the new tags), not what an agent made of it a moment later. The API passes
its renderer; the controller calls it with the session and the row before committing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")

#: ``render(session, row)``: what the caller wants back for the written row.
Render = Callable[[Session, Any], T]
