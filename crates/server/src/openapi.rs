//! The OpenAPI 3.1 document of the admin API, served at `/api/v1/openapi.json`.
//! It is made from the access table ([`crate::access::OPERATIONS`]): each
//! operation's summary, the role it needs (`x-roster-role`), and the types of
//! the JSON body it reads and of what it answers, the same table the API's
//! middleware enforces. Every schema is derived (utoipa's `ToSchema`) from the
//! type the handler reads or answers, and kept once in the document's
//! components.

use crate::access::{Answer, Operation, OPERATIONS};
use crate::error::ErrorBody;
use axum::Json;
use roster_store::Page;
use std::collections::BTreeMap;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, ComponentsBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    Content, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, RefOr, Required, ResponseBuilder, ServerBuilder,
};
use utoipa::ToSchema;

/// Named schemas, as the document's components keep them.
type Schemas = BTreeMap<String, RefOr<Schema>>;

/// The schema of a JSON body: a function that puts the body's type (and every
/// type it refers to) into the components and answers the reference to it.
#[derive(Clone, Copy)]
pub struct BodySchema(fn(&mut Schemas) -> RefOr<Schema>);

/// The schema of a JSON body of type `T`.
pub const fn json<T: ToSchema>() -> BodySchema {
    BodySchema(component::<T>)
}

/// The schema of a JSON array of `T`.
pub const fn list<T: ToSchema>() -> BodySchema {
    BodySchema(array_of::<T>)
}

/// The schema of a page of a listing of `T`.
pub const fn page<T: ToSchema>() -> BodySchema {
    BodySchema(page_of::<T>)
}

/// Puts `T` and what it refers to into `schemas`; the reference to `T`.
fn component<T: ToSchema>(schemas: &mut Schemas) -> RefOr<Schema> {
    named::<T>(T::name().into_owned(), schemas)
}

/// Puts `T`, named `name`, and what it refers to into `schemas`.
fn named<T: ToSchema>(name: String, schemas: &mut Schemas) -> RefOr<Schema> {
    let mut referred = Vec::new();
    T::schemas(&mut referred);
    schemas.extend(referred);
    schemas.insert(name.clone(), T::schema());
    Ref::from_schema_name(name).into()
}

fn array_of<T: ToSchema>(schemas: &mut Schemas) -> RefOr<Schema> {
    ArrayBuilder::new().items(component::<T>(schemas)).into()
}

/// A page of `T`, named for its items (`Page_User`): the instances of a
/// generic type share one name, and its items are referred to, not kept.
fn page_of<T: ToSchema>(schemas: &mut Schemas) -> RefOr<Schema> {
    component::<T>(schemas);
    named::<Page<T>>(format!("{}_{}", Page::<T>::name(), T::name()), schemas)
}

/// The path parameters of a route template (`/apps/{app}/roles/{role}`).
fn parameters(path: &str) -> impl Iterator<Item = utoipa::openapi::path::Parameter> + '_ {
    path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).map(|name| {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .build()
    })
}

fn json_content(schema: BodySchema, schemas: &mut Schemas) -> Content {
    Content::new(Some((schema.0)(schemas)))
}

/// The success answers of an operation, by status code.
fn answers(answer: Answer, schemas: &mut Schemas) -> Vec<(&'static str, ResponseBuilder)> {
    let ok = |description: &str, schema: BodySchema, schemas: &mut Schemas| {
        ResponseBuilder::new().description(description).content("application/json", json_content(schema, schemas))
    };
    match answer {
        Answer::Json(s) => vec![("200", ok("OK", s, schemas))],
        Answer::JsonOrCsv(s) => {
            let csv = Content::new(Some(ObjectBuilder::new().schema_type(Type::String)));
            vec![("200", ok("OK (CSV with format=csv)", s, schemas).content("text/csv", csv))]
        }
        Answer::Created(s) => vec![("201", ok("Created", s, schemas))],
        Answer::JsonOrAccepted(s) => {
            vec![("200", ok("Done", s, schemas)), ("202", ok("Started in the background", s, schemas))]
        }
        Answer::NoContent => vec![("204", ResponseBuilder::new().description("Done"))],
    }
}

fn method(o: &Operation) -> HttpMethod {
    use crate::access::Verb;
    match o.verb {
        Verb::Get => HttpMethod::Get,
        Verb::Post => HttpMethod::Post,
        Verb::Put => HttpMethod::Put,
        Verb::Patch => HttpMethod::Patch,
        Verb::Delete => HttpMethod::Delete,
    }
}

fn operation(o: &Operation, schemas: &mut Schemas) -> utoipa::openapi::path::Operation {
    let mut b = OperationBuilder::new()
        .summary(Some(o.summary))
        .parameters(Some(parameters(o.path)))
        .extensions(Some([("x-roster-role", o.role.as_str())].into_iter().collect()));
    if let Some(body) = o.body {
        b = b.request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content("application/json", json_content(body, schemas))
                .build(),
        ));
    }
    for (code, response) in answers(o.answer, schemas) {
        b = b.response(code, response);
    }
    for code in ["400", "401", "403", "404"] {
        b = b.response(code, Ref::from_response_name("Error"));
    }
    b.build()
}

/// The document, built from the access table.
pub fn build() -> OpenApi {
    let mut schemas = Schemas::new();
    let mut paths = Paths::new();
    for o in OPERATIONS {
        paths.add_path_operation(o.path, vec![method(o)], operation(o, &mut schemas));
    }
    let error = ResponseBuilder::new()
        .description("A refusal or failure: what failed, and for a refused setting the field")
        .content("application/json", json_content(json::<ErrorBody>(), &mut schemas));
    let components = ComponentsBuilder::new()
        .schemas_from_iter(schemas)
        .response("Error", error)
        .security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()))
        .build();
    let info = InfoBuilder::new()
        .title("roster admin API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Every operation needs a bearer token whose role allows it (x-roster-role): read reads everything \
             but secrets; operator also runs provisioning (start, stop, sync, restart, allow deletes, provision \
             on demand, test connection, hand-offs) and reads its logs; admin does everything. A token whose \
             role is too low gets a 403 naming the role needed; an expired token a 401.",
        ))
        .build();
    OpenApiBuilder::new()
        .info(info)
        .servers(Some([ServerBuilder::new().url(crate::API_PREFIX).build()]))
        .security(Some([SecurityRequirement::new("bearer", Vec::<String>::new())]))
        .paths(paths)
        .components(Some(components))
        .build()
}

/// The document, as the API serves it.
pub async fn document() -> Json<OpenApi> {
    Json(build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn document() -> Value {
        serde_json::to_value(build()).expect("the document serializes")
    }

    /// Every `$ref` under `v`.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(r)) = o.get("$ref") {
                    out.push(r.clone());
                }
                o.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    /// Whether a JSON content's schema names a component (itself or as the
    /// items of an array).
    fn names_a_component(content: &Value) -> bool {
        let schema = &content["schema"];
        schema["$ref"].is_string() || (schema["type"] == "array" && schema["items"]["$ref"].is_string())
    }

    #[test]
    fn every_json_body_and_answer_has_a_schema() {
        let doc = document();
        let mut checked = 0;
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (verb, op) in item.as_object().expect("a path item") {
                let what = format!("{verb} {path}");
                if let Some(body) = op.get("requestBody") {
                    assert!(names_a_component(&body["content"]["application/json"]), "{what}: body {body}");
                    checked += 1;
                }
                for (code, answer) in op["responses"].as_object().expect("responses") {
                    let Some(content) = answer.get("content") else { continue };
                    let json = &content["application/json"];
                    assert!(names_a_component(json), "{what}: answer {code} {answer}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 50, "only {checked} bodies and answers");
    }

    #[test]
    fn the_document_gives_each_operations_role_summary_body_and_success() {
        for o in OPERATIONS {
            let with_body = matches!(o.verb, crate::access::Verb::Patch | crate::access::Verb::Put);
            assert!(!with_body || o.body.is_some(), "{} {} takes a body but names none", o.verb.as_str(), o.path);
        }
        let doc = document();
        for o in OPERATIONS {
            let op = &doc["paths"][o.path][o.verb.as_str().to_ascii_lowercase()];
            assert_eq!(op["x-roster-role"], o.role.as_str(), "{} {}", o.verb.as_str(), o.path);
            assert_eq!(op["summary"], o.summary);
            let answers = op["responses"].as_object().expect("responses");
            assert!(answers.keys().any(|c| c.starts_with('2')), "{} {}: no success answer", o.verb.as_str(), o.path);
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let pointer = r.strip_prefix('#').expect("a local reference");
            assert!(doc.pointer(pointer).is_some(), "{r} names nothing in the document");
        }
    }

    #[test]
    fn generic_answers_get_a_component_each() {
        let doc = document();
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        for name in ["Page_User", "Page_AuditEntry", "AuditEntry", "SettingsView", "ProvisioningStatus", "ErrorBody"] {
            assert!(schemas.contains_key(name), "{name} is missing from {:?}", schemas.keys().collect::<Vec<_>>());
        }
        let items = &schemas["Page_AuditEntry"]["properties"]["items"]["items"]["$ref"];
        assert_eq!(items, "#/components/schemas/AuditEntry", "{}", schemas["Page_AuditEntry"]);
    }
}
