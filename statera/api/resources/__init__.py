"""One module per Octavia resource; each exposes ``router`` (a FastAPI APIRouter)."""
