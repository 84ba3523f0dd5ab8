//! The OpenAPI 3.1 document of the admin API, served at `/api/v1/openapi.json`.
//! It is made from the access table ([`crate::access::OPERATIONS`]): each
//! operation's summary and the role it needs (`x-roster-role`) come from there,
//! the same table the API's middleware enforces.

use crate::access::{Operation, OPERATIONS};
use axum::Json;
use serde_json::{json, Map, Value};

fn operation(o: &Operation) -> Value {
    let mut v = json!({
        "summary": o.summary,
        "x-roster-role": o.role.as_str(),
        "responses": {
            "200": {"description": "OK"},
            "400": {"$ref": "#/components/responses/Error"},
            "401": {"$ref": "#/components/responses/Error"},
            "403": {"$ref": "#/components/responses/Error"},
            "404": {"$ref": "#/components/responses/Error"}
        }
    });
    if o.body {
        v["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"type": "object"}}}});
    }
    v
}

/// The path parameters of a route template (`/apps/{app}/roles/{role}`).
fn parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect()
}

/// The `paths` object: one entry per route template, one operation per method.
fn paths() -> Map<String, Value> {
    let mut paths = Map::new();
    for o in OPERATIONS {
        let entry = paths.entry(o.path.to_string()).or_insert_with(|| {
            let params = parameters(o.path);
            if params.is_empty() {
                json!({})
            } else {
                json!({"parameters": params})
            }
        });
        entry[o.verb.as_str().to_ascii_lowercase()] = operation(o);
    }
    paths
}

/// The document.
pub async fn document() -> Json<Value> {
    Json(json!({
        "openapi": "3.1.0",
        "info": {
            "title": "roster admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every operation needs a bearer token whose role allows it (x-roster-role): read reads \
                everything but secrets; operator also runs provisioning (start, stop, sync, restart, allow deletes, \
                provision on demand, test connection, hand-offs) and reads its logs; admin does everything. A token \
                whose role is too low gets a 403 naming the role needed; an expired token a 401."
        },
        "servers": [{"url": crate::API_PREFIX}],
        "security": [{"bearer": []}],
        "paths": paths(),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {"Error": {"description": "An error", "content": {"application/json": {"schema": {
                "type": "object",
                "properties": {"error": {"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}
            }}}}}
        }
    }))
}
