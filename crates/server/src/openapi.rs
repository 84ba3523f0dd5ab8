//! The OpenAPI 3.1 document of the admin API, served at `/api/v1/openapi.json`.

use axum::Json;
use serde_json::{json, Value};

fn op(summary: &str, body: bool) -> Value {
    let mut o = json!({
        "summary": summary,
        "responses": {
            "200": {"description": "OK"},
            "400": {"$ref": "#/components/responses/Error"},
            "401": {"$ref": "#/components/responses/Error"},
            "404": {"$ref": "#/components/responses/Error"}
        }
    });
    if body {
        o["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"type": "object"}}}});
    }
    o
}

fn param(name: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}})
}

/// The document.
pub async fn document() -> Json<Value> {
    let paths = json!({
        "/users": {"get": op("List users (filters: userName, displayName, q; offset, limit, includeDeleted)", false), "post": op("Create a user", true)},
        "/users/bulk": {"post": op("Create or update users by userName (at most 5,000 rows)", true)},
        "/users/{user}": {"parameters": [param("user")], "get": op("Read a user (id or userName)", false), "patch": op("Update a user partially (null clears)", true), "delete": op("Soft-delete a user (restorable for 30 days)", false)},
        "/users/{user}/restore": {"parameters": [param("user")], "post": op("Restore a soft-deleted user", false)},
        "/users/{user}/enable": {"parameters": [param("user")], "post": op("Enable a user", false)},
        "/users/{user}/disable": {"parameters": [param("user")], "post": op("Disable a user", false)},
        "/users/{user}/assignments": {"parameters": [param("user")], "get": op("Effective assignments of a user, with role and path", false)},
        "/groups": {"get": op("List groups (displayName, q, offset, limit)", false), "post": op("Create a group", true)},
        "/groups/{group}": {"parameters": [param("group")], "get": op("Read a group", false), "patch": op("Update a group", true), "delete": op("Delete a group", false)},
        "/groups/{group}/members": {"parameters": [param("group")], "get": op("Direct members of a group", false), "post": op("Add a member: {\"user\":..}, {\"group\":..}, or many users at once: {\"users\":[..]}", true)},
        "/groups/{group}/members/{member}": {"parameters": [param("group"), param("member")], "delete": op("Remove a member", false)},
        "/apps": {"get": op("List applications", false), "post": op("Create an application from a template", true)},
        "/apps/{app}": {"parameters": [param("app")], "get": op("Read an application", false), "patch": op("Rename an application", true), "delete": op("Delete an application", false)},
        "/apps/{app}/roles": {"parameters": [param("app")], "get": op("App roles", false), "post": op("Define an app role", true)},
        "/apps/{app}/roles/{role}": {"parameters": [param("app"), param("role")], "delete": op("Delete an app role", false)},
        "/apps/{app}/assignments": {"parameters": [param("app")], "get": op("Direct assignments", false), "post": op("Assign a user or group with a role", true), "delete": op("Unassign (?user= or ?group=, optional role)", false)},
        "/apps/{app}/effective-assignments": {"parameters": [param("app")], "get": op("Users the app reaches, with role and path", false)},
        "/apps/{app}/provisioning": {"parameters": [param("app")], "get": op("Provisioning settings (secrets only as set)", false), "patch": op("Configure provisioning: mode, status, tenantUrl, secretToken, adminUsername, adminPassword, clientId, clientSecret (secrets write-only), apiUrl, authorizeUrl, tokenUrl, notificationEmail, scope, interval", true)},
        "/apps/{app}/provisioning/test-connection": {"parameters": [param("app")], "post": op("Test the connection to the app", false)},
        "/apps/{app}/provisioning/start": {"parameters": [param("app")], "post": op("Turn provisioning on", false)},
        "/apps/{app}/provisioning/stop": {"parameters": [param("app")], "post": op("Turn provisioning off", false)},
        "/apps/{app}/provisioning/restart": {"parameters": [param("app")], "post": op("Restart provisioning (?full=true also clears the shadow)", false)},
        "/apps/{app}/provisioning/sync": {"parameters": [param("app")], "post": op("Run a cycle now (?wait=true to wait for it)", false)},
        "/apps/{app}/provisioning/allow-deletes": {"parameters": [param("app")], "post": op("Let the disables the accidental-deletion guard staged through", false)},
        "/apps/{app}/provisioning/status": {"parameters": [param("app")], "get": op("Provisioning status and progress", false)},
        "/apps/{app}/provisioning/logs": {"parameters": [param("app")], "get": op("Provisioning logs (status, action, user, cycleId, since, until, format=json|csv)", false)},
        "/apps/{app}/provisioning/provision-on-demand": {"parameters": [param("app")], "post": op("Provision one user now and show each step", true)},
        "/apps/{app}/provisioning/mappings": {"parameters": [param("app")], "get": op("The mapping document", false), "put": op("Replace the mapping document (validated)", true)},
        "/apps/{app}/provisioning/preview": {"parameters": [param("app")], "get": op("The attributes a user (?user=) would get in the app", false)},
        "/apps/{app}/provisioning/authorize": {"parameters": [param("app")], "post": op("Start Authorize (OAuth apps such as Dropbox): {url} for a team admin to open; the vendor sends the browser back to /oauth/callback", false)},
        "/apps/{app}/provisioning/handoff": {"parameters": [param("app")], "get": op("Manual mode: the open hand-off, the accounts to create, update, disable or enable by hand (format=json|csv)", false)},
        "/apps/{app}/provisioning/handoff/confirm": {"parameters": [param("app")], "post": op("Manual mode: record that hand-off {id} was applied; the accounts it lists count as provisioned", true)},
        "/gallery": {"get": op("The app templates, with the provisioning modes each supports", false)},
        "/gallery/{template}": {"parameters": [param("template")], "get": op("A template: credentials form, app roles, quirks, default mappings", false)},
        "/expressions/evaluate": {"post": op("Evaluate an expression of the mapping language over a user: {expression, user?}", true)},
        "/tokens": {"get": op("List API tokens", false), "post": op("Create an API token (its secret is shown once)", true)},
        "/tokens/{name}": {"parameters": [param("name")], "delete": op("Revoke an API token", false)}
    });
    Json(json!({
        "openapi": "3.1.0",
        "info": {"title": "roster admin API", "version": env!("CARGO_PKG_VERSION")},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {"Error": {"description": "An error", "content": {"application/json": {"schema": {
                "type": "object",
                "properties": {"error": {"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}
            }}}}}
        }
    }))
}
