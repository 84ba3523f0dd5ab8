//! Discovery endpoints (RFC 7644 §4): `ServiceProviderConfig`,
//! `ResourceTypes` and `Schemas`, minimal but valid.

use axum::http::StatusCode;
use axum::response::Response;
use roster_scim::{ListResponse, ENTERPRISE_USER, GROUP_SCHEMA, USER_SCHEMA};
use serde_json::{json, Value};

use crate::http::{json_response, MAX_BODY, MAX_PAGE};

/// `GET /ServiceProviderConfig` (no token needed).
pub async fn service_provider_config() -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "patch": {"supported": true},
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": MAX_BODY},
            "filter": {"supported": true, "maxResults": MAX_PAGE},
            "changePassword": {"supported": false},
            "sort": {"supported": false},
            "etag": {"supported": true},
            "authenticationSchemes": [{
                "type": "oauthbearertoken", "name": "OAuth Bearer Token",
                "description": "Authentication with a bearer token", "primary": true
            }],
            "meta": {"resourceType": "ServiceProviderConfig"}
        }),
    )
}

/// `GET /ResourceTypes`
pub async fn resource_types() -> Response {
    let types = vec![
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"], "id": "User", "name": "User",
               "endpoint": "/Users", "schema": USER_SCHEMA,
               "schemaExtensions": [{"schema": ENTERPRISE_USER, "required": false}],
               "meta": {"resourceType": "ResourceType"}}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"], "id": "Group", "name": "Group",
               "endpoint": "/Groups", "schema": GROUP_SCHEMA, "meta": {"resourceType": "ResourceType"}}),
    ];
    json_response(StatusCode::OK, &ListResponse::new(2, 1, types).to_value())
}

fn attr(name: &str, kind: &str, multi: bool, uniqueness: &str, subs: Vec<Value>) -> Value {
    let mut a = json!({"name": name, "type": kind, "multiValued": multi, "required": name == "userName" || name == "displayName",
                       "caseExact": false, "mutability": "readWrite", "returned": "default", "uniqueness": uniqueness});
    if !subs.is_empty() {
        a["subAttributes"] = Value::Array(subs);
    }
    a
}

fn s(name: &str) -> Value {
    attr(name, "string", false, "none", vec![])
}

/// `GET /Schemas`
pub async fn schemas() -> Response {
    let typed = || vec![s("value"), s("type"), attr("primary", "boolean", false, "none", vec![])];
    let user = json!({"id": USER_SCHEMA, "name": "User", "attributes": [
        attr("userName", "string", false, "server", vec![]),
        attr("name", "complex", false, "none", vec![s("formatted"), s("familyName"), s("givenName")]),
        s("displayName"), s("title"), s("externalId"), s("preferredLanguage"),
        attr("active", "boolean", false, "none", vec![]),
        attr("emails", "complex", true, "none", typed()),
        attr("phoneNumbers", "complex", true, "none", typed()),
        attr("addresses", "complex", true, "none", vec![s("type"), s("formatted"), s("streetAddress"),
            s("locality"), s("region"), s("postalCode"), s("country")]),
    ], "meta": {"resourceType": "Schema"}});
    let group = json!({"id": GROUP_SCHEMA, "name": "Group", "attributes": [
        s("displayName"), s("externalId"),
        attr("members", "complex", true, "none", vec![s("value"), s("display"), s("type")]),
    ], "meta": {"resourceType": "Schema"}});
    let enterprise = json!({"id": ENTERPRISE_USER, "name": "EnterpriseUser", "attributes": [
        s("employeeNumber"), s("department"), s("costCenter"), s("organization"), s("division"),
        attr("manager", "complex", false, "none", vec![s("value"), s("displayName")]),
    ], "meta": {"resourceType": "Schema"}});
    let all: Vec<Value> = [user, group, enterprise]
        .into_iter()
        .map(|mut v| {
            v["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:Schema"]);
            v
        })
        .collect();
    json_response(StatusCode::OK, &ListResponse::new(3, 1, all).to_value())
}
