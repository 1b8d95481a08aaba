"""Request bodies bounded per router: :func:`bounded_route` is a FastAPI ``route_class`` whose routes read a body up to
a number of bytes, declared (``Content-Length``) or streamed, and answer a larger one with a 413 naming the bound.

Not FastAPI's ``max_body_size``: its 413 for a declared Content-Length is plain text, and the API's errors are JSON
(the 413 here leaves through the API's handler as ``{"error": ...}``). Never reads past the bound.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException


def too_large(max_bytes: int) -> str:
    """The 413's message for routes bounded at ``max_bytes``."""
    return f"the request body is larger than {max_bytes} bytes, the most these routes take"


class BoundedRequest(Request):
    """A request whose body is read up to ``max_bytes`` (declared or streamed), else a 413 naming the bound."""

    max_bytes: int

    async def body(self) -> bytes:
        if not hasattr(self, "_body"):
            declared = self.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise HTTPException(413, too_large(self.max_bytes))
            chunks, size = [], 0
            async for chunk in self.stream():
                size += len(chunk)
                if size > self.max_bytes:
                    raise HTTPException(413, too_large(self.max_bytes))
                chunks.append(chunk)
            self._body = b"".join(chunks)
        return self._body


def bounded_route(max_bytes: int) -> type[APIRoute]:
    """A ``route_class`` whose routes take bodies of at most ``max_bytes`` bytes."""
    request_class = type(f"BoundedRequest{max_bytes}", (BoundedRequest,), {"max_bytes": max_bytes})

    class BoundedRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
            handler = super().get_route_handler()

            async def bounded(request: Request) -> Response:
                return await handler(request_class(request.scope, request.receive))

            return bounded

    return BoundedRoute
