"""Hostile requests: bodies too long (413 even when chunked), JSON nested past recursion, NUL
characters anywhere in the URL or a form."""

import re

from flask import Request, request
from webargs.flaskparser import FlaskParser, abort
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream, get_input_stream

from engine.errors import Invalid

DRAIN_BYTES = 512 * 1024  # past the limit, at most this much more is read and thrown away


class _MaxLengthStream(LimitedStream):
    """Werkzeug's stream limited to MAX_CONTENT_LENGTH, except that reading it whole refuses a
    body that goes on past the limit (Werkzeug's own stops quietly at the limit there, so a
    chunked upload would be cut short instead of refused)."""

    def __init__(self, stream, limit: int):
        super().__init__(stream, limit, is_max=True)
        self._source = stream

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted and self._source.read(1):
            self._drain()
            raise RequestEntityTooLarge()
        return data

    def _drain(self) -> None:
        """Read a bounded rest of the refused body: a server that closes with unread data sends
        a reset, and the client may then never see the 413."""
        left = DRAIN_BYTES
        while left > 0 and (chunk := self._source.read(min(left, 64 * 1024))):
            left -= len(chunk)


class BoundedRequest(Request):
    """Flask's request with a body never longer than MAX_CONTENT_LENGTH, with or without a
    Content-Length."""

    @cached_property
    def stream(self):
        terminated = "wsgi.input_terminated" in self.environ  # gunicorn sets it
        if self.shallow or not terminated or self.max_content_length is None:
            return super().stream
        get_input_stream(self.environ, max_content_length=self.max_content_length)  # 413 early
        return _MaxLengthStream(self.environ["wsgi.input"], self.max_content_length)


# A JSON string token, or a bracket or colon outside strings.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}:]')
_REPORTED_DEPTH = 64


class JsonBodyParser(FlaskParser):
    """Arrays or objects nested deeper than Python's JSON decoder can recurse (a RecursionError,
    hence a 500 before) are a client error naming the top-level field that holds them."""

    def _raw_load_json(self, req):
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            field = _field_nested_too_deep(req.get_data(as_text=True))
            message = f"nested more than {_REPORTED_DEPTH} levels deep"
            abort(400, messages={"json": {field: [message]}})


def _field_nested_too_deep(text: str) -> str:
    """The top-level member whose value nests past the reported depth ("_schema": the body)."""
    depth, member, last_string = 0, "_schema", None
    for token in _TOKENS.finditer(text):
        symbol = token.group()
        if symbol in ("[", "{"):
            depth += 1
            if depth > _REPORTED_DEPTH:
                return member
        elif symbol in ("]", "}"):
            depth -= 1
        elif symbol == ":":
            if depth == 1:
                member = last_string
        else:
            last_string = symbol[1:-1]
    return member


def refuse_nul_characters() -> None:
    """A NUL in the path or the query is never meaningful, and PostgreSQL refuses to compare text
    holding one (a 500 before): Invalid (422) naming the field. Unknown paths stay 404s."""
    if request.url_rule is None:
        return
    field = "path" if "\x00" in request.path else field_with_nul(request.args)
    if field:
        raise Invalid(f"{field}: must not contain NUL characters", field=field)


def field_with_nul(values) -> str | None:
    """The first name in a MultiDict (query or form) whose name or a value holds a NUL."""
    for name, each in values.lists():
        if "\x00" in name or any("\x00" in value for value in each):
            return name
    return None
