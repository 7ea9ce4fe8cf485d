"""``GET /vision/api/openapi.json``: the OpenAPI 3.1 description of this API.

The document states every constraint the handlers enforce that a schema can say
(required fields, types, ``minLength``, ``maxLength``, a model name with a
non-space character) and every status they answer with, so a client generated
from it, and the schemathesis run in the tests, agree with the server.
"""
from __future__ import annotations

from typing import Any

from vision_widgets.api.base import API_PREFIX, JSONHandler
from vision_widgets.core.catalog.submissions import MAX_LABEL
from vision_widgets.core.jobs.workers import STATES as WORKER_STATES
from vision_widgets.core.usage.records import MAX_PREDICTIONS, MAX_RECORDS


class OpenAPIHandler(JSONHandler):
    def get(self) -> None:
        self.write_json(openapi_document(self.ctx.settings.upload_limit_bytes if self.ctx else None))


def openapi_document(limit: int | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 description of the endpoints in ``vision_widgets.api``."""
    error = {"$ref": "#/components/schemas/Error"}

    def resp(text: str, schema: dict | None = None) -> dict:
        return {"description": text, "content": {"application/json": {"schema": schema or error}}}

    return {
        "openapi": "3.1.0",
        "info": {"title": "Vision AI API", "version": "1",
                 "description": "Health, profile submission for models whose data is restricted, and usage "
                                "records. "
                                "Errors are JSON (`Error`); a 405 carries an `Allow` header."},
        "paths": {
            f"{API_PREFIX}/health": {"get": {
                "summary": "The platform's health checks",
                "description": "No login needed: models and connectors are counted, never named; no secret, "
                               "no kernel id. 503 (same body) when a critical check (database, worker) fails.",
                "operationId": "health",
                "responses": {
                    "200": resp("Every critical check passes", {"$ref": "#/components/schemas/Health"}),
                    "503": resp("A critical check fails", {"$ref": "#/components/schemas/Health"}),
                },
            }},
            f"{API_PREFIX}/openapi.json": {"get": {
                "summary": "This document",
                "operationId": "openapi",
                "responses": {"200": resp("The OpenAPI document", {"type": "object"})},
            }},
            f"{API_PREFIX}/session": {
                "post": {
                    "summary": "The dashboard page turns a login's single-use code into its session cookie",
                    "operationId": "setSessionCookie",
                    "description": "Same-origin only: needs the X-XSRFToken header equal to the _xsrf cookie. "
                                   "Answers with Set-Cookie: vision_session (HttpOnly, SameSite=Strict).",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {
                        "type": "object", "required": ["code"],
                        "properties": {"code": {"type": "string", "minLength": 1}}}}}},
                    "responses": {
                        "204": {"description": "The cookie is set"},
                        "400": resp("No code in the body"),
                        "401": resp("The code is used, expired or unknown"),
                        "403": resp("No XSRF token, or another origin"),
                    },
                },
                "delete": {
                    "summary": "Log out: revoke the cookie's session and clear the cookie",
                    "operationId": "clearSessionCookie",
                    "responses": {"204": {"description": "Logged out"},
                                  "403": resp("No XSRF token, or another origin")},
                },
            },
            f"{API_PREFIX}/models/{{name}}/profiles": {"post": {
                "summary": "Submit a model's profiles (aggregates only) with its upload token",
                "operationId": "submitProfiles",
                "security": [{"uploadToken": []}],
                "parameters": [{"name": "name", "in": "path", "required": True,
                                "schema": {"type": "string", "minLength": 1},
                                "description": "The registered model name (URL-encoded)."}],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Submission"}}},
                    "description": f"At most {limit:,} bytes." if limit else "Within the server's size limit."},
                "responses": {
                    "201": resp("Accepted; the drift summary", {"$ref": "#/components/schemas/Accepted"}),
                    "400": resp("The body is empty, not JSON, or nests arrays/objects too deep"),
                    "401": resp("Missing, unknown, expired or used upload token (checked before the body is read)"),
                    "403": resp("The token belongs to another model"),
                    "404": resp("No model of that name"),
                    "409": resp("Another submission for this model was stored meanwhile; submit again"),
                    "413": resp("The body is over the size limit"),
                    "415": resp("Not application/json"),
                    "422": resp("A field is invalid; 'field' names it (a JSON path such as production.rows)"),
                },
            }},
            f"{API_PREFIX}/models/{{name}}/usage": {"post": {
                "summary": "Send a model's usage records (predictions, compute hours, resource shares)",
                "operationId": "submitUsage",
                "description": "Idempotent per model and timestamp: a record already stored is kept as first "
                               "sent and counted as unchanged. The whole body is validated before anything is "
                               "stored; a refused body stores nothing. The upload token is not spent.",
                "security": [{"apiKey": []}, {"uploadToken": []}],
                "parameters": [{"name": "name", "in": "path", "required": True,
                                "schema": {"type": "string", "minLength": 1},
                                "description": "The registered model name (URL-encoded)."}],
                "requestBody": {"required": True, "content": {
                    "application/x-ndjson": {"schema": {"type": "string"},
                                             "example": '{"timestamp": "2026-09-01T00:00:00Z", "predictions": '
                                                        '41250, "compute_hours": 3.5, "cpu_share": 0.42}\n'},
                    "application/json": {"schema": {"type": "array", "minItems": 1, "maxItems": MAX_RECORDS,
                                                    "items": {"$ref": "#/components/schemas/UsageRecord"}}}},
                    "description": "JSON lines (one UsageRecord per line) or a JSON array of them; at most "
                                   f"{MAX_RECORDS:,} records"
                                   + (f" and {limit:,} bytes." if limit else " and the server's size limit.")},
                "responses": {
                    "200": resp("Every record was already stored (a re-send); nothing new",
                                {"$ref": "#/components/schemas/UsageAccepted"}),
                    "201": resp("Stored; the counts", {"$ref": "#/components/schemas/UsageAccepted"}),
                    "400": resp("The body is empty, or lines of it are not JSON (their numbers are named)"),
                    "401": resp("Missing, unknown, revoked or expired API key or upload token "
                                "(checked before the body is read)"),
                    "403": resp("The upload token belongs to another model, or the API key has another scope"),
                    "404": resp("No model of that name"),
                    "413": resp("The body is over the size limit"),
                    "415": resp("Neither application/x-ndjson nor application/json"),
                    "422": resp("Records are not valid usage; the message names every bad line and column"),
                },
            }},
        },
        "components": {
            "securitySchemes": {"uploadToken": {"type": "http", "scheme": "bearer",
                                                "description": "The model's 24-hour, single-use upload token."},
                                "apiKey": {"type": "http", "scheme": "bearer",
                                           "description": "An API key an admin issued (`vision api-keys issue`), "
                                                          "scope 'usage'; it starts with vsk_."}},
            "schemas": {
                "Error": {"type": "object", "required": ["status", "code", "message"],
                          "additionalProperties": False, "properties": {
                              "status": {"const": "error"}, "code": {"type": "integer"},
                              "message": {"type": "string"}, "field": {"type": "string"}}},
                "Health": {"type": "object", "required": ["status", "version", "kernels", "checks"], "properties": {
                    "status": {"enum": ["ok", "fail"]}, "version": {"type": "string"},
                    "checked_at": {"type": "string", "format": "date-time"},
                    "recorded_at": {"type": ["string", "null"], "format": "date-time",
                                    "description": "When the repeated checks (llm, disk, models, connectors) were "
                                                   "recorded by the worker; null if over 10 min ago or never"},
                    "checks": {"type": "array", "items": {"$ref": "#/components/schemas/PublicCheck"}},
                    "models": {"type": "object", "description": "Models counted by the status of their freshness "
                                                                "in the last recorded run",
                               "properties": {s: {"type": "integer"} for s in ("ok", "warn", "fail")}},
                    "connectors": {"type": "object", "description": "Stored connectors counted by their last test",
                                   "properties": {s: {"type": "integer"} for s in ("ok", "warn", "fail")}},
                    "kernels": {"type": "object", "additionalProperties": {"type": "integer"}},
                    "worker": {"type": "object", "description": "The background workers' last heartbeat",
                               "required": ["state", "alive", "last_heartbeat", "seconds_since_heartbeat",
                                            "message"], "properties": {
                                   "state": {"enum": list(WORKER_STATES)}, "alive": {"type": "integer"},
                                   "last_heartbeat": {"type": ["string", "null"], "format": "date-time"},
                                   "seconds_since_heartbeat": {"type": ["number", "null"]},
                                   "message": {"type": "string"}}}}},
                "PublicCheck": {"type": "object", "required": ["check", "status", "critical", "value", "unit"],
                                "description": "A check as the unauthenticated endpoint gives it: status and value; "
                                               "the sentence for the critical checks only (no host, no byte count)",
                                "properties": {
                    "check": {"type": "string"}, "status": {"enum": ["ok", "warn", "fail"]},
                    "critical": {"type": "boolean"}, "value": {"type": ["number", "null"]}, "unit": {"type": "string"},
                    "message": {"type": "string"}}},
                "Submission": {"type": "object", "required": ["schema", "model", "production"], "properties": {
                    "schema": {"const": "vision.submission"},
                    "model": {"type": "string", "minLength": 1, "pattern": r"\S",
                              "description": "The model's name (as in the path, any case); not only spaces."},
                    "label": {"type": ["string", "null"], "maxLength": MAX_LABEL},
                    "reference": {"type": ["object", "null"],
                                  "description": "Training profile (client.Profile.to_json): the first submission "
                                                 "must carry it, later ones must not."},
                    "production": {"type": "object",
                                   "description": "Production profile computed with the model's training profile; "
                                                  "without the target column it is label-free (drift and estimated "
                                                  "performance). Labels arriving later: profile the same window "
                                                  "with the target and send it under the same label."},
                }},
                "UsageRecord": {"type": "object", "required": ["timestamp", "predictions", "compute_hours"],
                                "additionalProperties": False, "properties": {
                    "timestamp": {"type": "string", "minLength": 1,
                                  "description": "ISO 8601 date and time; without a zone it is UTC"},
                    "predictions": {"type": "integer", "minimum": 0, "maximum": MAX_PREDICTIONS},
                    "compute_hours": {"type": "number", "minimum": 0},
                    "cpu_share": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
                    "memory_share": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
                    "gpu_share": {"type": ["number", "null"], "minimum": 0, "maximum": 1}}},
                "UsageAccepted": {"type": "object", "required": ["status", "model", "stored", "unchanged"],
                                  "properties": {
                    "status": {"const": "accepted"}, "model": {"type": "string"},
                    "stored": {"type": "integer", "description": "New records stored"},
                    "unchanged": {"type": "integer", "description": "Records already stored for their timestamp "
                                                                    "(kept as first sent)"},
                    "conflicting": {"type": "integer", "description": "Of the unchanged, those sent with other "
                                                                      "values than the stored record"}}},
                "Accepted": {"type": "object", "required": ["status", "model"], "properties": {
                    "status": {"const": "accepted"}, "model": {"type": "string"},
                    "dataset_drift": {"type": "boolean"}, "drift_share": {"type": "number"},
                    "drifted_features": {"type": "array", "items": {"type": "string"}},
                    "stored_as": {"enum": ["production", "labels"], "description": (
                        "'labels' when the production profile carries the target and its label names a batch "
                        "stored earlier without labels: it supplies that batch's realised performance and adds "
                        "no drift")},
                }},
            },
        },
    }
