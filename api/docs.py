"""`/api/docs`: the OpenAPI document as a readable page, rendered on the server (no script, no
outside asset): each operation with its description, parameters, body fields and answers."""

import re

from flask import Blueprint, current_app, render_template
from markupsafe import Markup

docs_page = Blueprint("api_docs_page", __name__, template_folder="templates")

METHODS = ("get", "post", "put", "patch", "delete")


def inline_code(text: str | None) -> Markup:
    """Escaped text with each `backticked` span as <code>."""
    parts = re.split(r"`([^`]+)`", text or "")  # the spans in backticks at the odd places
    return Markup("").join(
        Markup("<code>{}</code>").format(part) if i % 2 else part for i, part in enumerate(parts)
    )


class Spec:
    """The OpenAPI document with its `$ref`s followed and its schemas read as field lists."""

    def __init__(self, document: dict):
        self.document = document

    def resolve(self, node: dict) -> dict:
        while "$ref" in node:
            node = self.at(node["$ref"])
        return node

    def at(self, ref: str) -> dict:
        node = self.document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        return node

    def type_of(self, schema: dict) -> str:
        """A short type: `CartLine`, `array of Item`, `string (date-time)`, `one of a, b`."""
        if "$ref" in schema:
            return schema["$ref"].rsplit("/", 1)[-1]
        if schema.get("type") == "array":
            return f"array of {self.type_of(schema.get('items', {}))}"
        if "enum" in schema:
            return "one of " + ", ".join(str(value) for value in schema["enum"] if value)
        kind = schema.get("type", "any")
        return f"{kind} ({schema['format']})" if "format" in schema else kind

    def fields(self, schema: dict) -> list[dict]:
        """The properties of an object schema: name, type, required, description."""
        schema = self.resolve(schema)
        required = set(schema.get("required", ()))
        return [
            {
                "name": name,
                "type": self.type_of(field) + (" or null" if field.get("nullable") else ""),
                "required": name in required,
                "description": field.get("description", ""),
            }
            for name, field in schema.get("properties", {}).items()
        ]

    def operations(self) -> list[dict]:
        return [
            self.operation(method, path, ops[method])
            for path, ops in self.document["paths"].items()
            for method in METHODS
            if method in ops
        ]

    def operation(self, method: str, path: str, op: dict) -> dict:
        body = op.get("requestBody", {}).get("content", {}).get("application/json")
        return {
            "method": method.upper(),
            "path": path,
            "id": op.get("operationId", f"{method}-{path}"),
            "summary": op.get("summary", ""),
            "description": op.get("description", ""),
            "parameters": [self.resolve(p) for p in op.get("parameters", ())],
            "body": body
            and {
                "type": self.type_of(body["schema"]),
                "fields": self.fields(body["schema"]),
            },
            "answers": [
                self.answer(status, op["responses"][status])
                for status in sorted(op["responses"], key=lambda s: (s == "default", s))
            ],
        }

    def answer(self, status: str, answer: dict) -> dict:
        answer = self.resolve(answer)
        content = next(iter(answer.get("content", {}).values()), {})
        schema = content.get("schema")
        return {
            "status": status,
            "description": answer.get("description", ""),
            "type": schema and self.type_of(schema),
        }

    def schemas(self) -> dict[str, list[dict]]:
        return {
            name: self.fields(schema)
            for name, schema in sorted(self.document["components"]["schemas"].items())
        }


@docs_page.route("/api/docs")
def docs():
    api = current_app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    spec = Spec(api.spec.to_dict())
    return render_template(
        "api_docs.html",
        info=spec.document["info"],
        operations=spec.operations(),
        schemas=spec.schemas(),
        code=inline_code,
    )
