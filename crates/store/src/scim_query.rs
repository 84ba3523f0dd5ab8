//! SCIM filters (RFC 7644 §3.4.2.2) over the directory's users, as SQL: each
//! attribute of the SCIM User (core and enterprise extension) names a column,
//! each operator a comparison, so that a filter is answered by the database
//! (with its indexes) and never by loading every user. A filter on an attribute
//! the directory does not keep is refused (`invalidFilter`).
//!
//! The directory keeps one email (work), one mobile number and one work address:
//! in a value path, `type` compares against those types and `primary` is true.

use crate::{Group, Page, Store, StoreError, User};
use roster_scim::{CompareOp, Filter, FilterPath};
use serde_json::Value;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user";

/// Why a SCIM query was refused: a message for a 400 `invalidFilter`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScimQueryError(pub String);

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
enum Bind {
    Text(String),
    Int(i64),
}

/// What an attribute is in the table.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Target {
    /// A text column; `exact`: compared case-sensitively (ids).
    Text { column: &'static str, exact: bool },
    /// `active`, stored as 0 or 1.
    Bool(&'static str),
    /// A time stored in ms, compared with RFC 3339 values.
    Time(&'static str),
    /// A constant of the single entry the directory keeps (`type`, `primary`).
    Const(&'static str),
    /// A group's `members` (their `value`): one of them.
    Member,
}

/// The resource a query is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource {
    User,
    Group,
}

fn target(resource: Resource, path: &FilterPath, entry: Option<&str>) -> Result<Target, ScimQueryError> {
    match resource {
        Resource::User => user_target(path, entry),
        Resource::Group => group_target(path, entry),
    }
}

fn group_target(path: &FilterPath, entry: Option<&str>) -> Result<Target, ScimQueryError> {
    let unknown =
        || ScimQueryError(format!("the directory keeps no group attribute {} to filter on", shown(path, entry)));
    if path.schema.as_deref().is_some_and(|s| !s.to_ascii_lowercase().ends_with(":core:2.0:group")) {
        return Err(unknown());
    }
    let (attr, sub) = match entry {
        Some(parent) => (parent.to_ascii_lowercase(), Some(path.attr.to_ascii_lowercase())),
        None => (path.attr.to_ascii_lowercase(), path.sub_attr.as_deref().map(str::to_ascii_lowercase)),
    };
    match (attr.as_str(), sub.as_deref()) {
        ("id", None) => Ok(Target::Text { column: "g.id", exact: true }),
        ("displayname", None) => Ok(Target::Text { column: "g.display_name", exact: false }),
        ("members", None | Some("value")) => Ok(Target::Member),
        ("meta", Some("created")) => Ok(Target::Time("g.created_at")),
        ("meta", Some("lastmodified")) => Ok(Target::Time("g.updated_at")),
        _ => Err(unknown()),
    }
}

fn user_target(path: &FilterPath, entry: Option<&str>) -> Result<Target, ScimQueryError> {
    let unknown = || ScimQueryError(format!("the directory keeps no attribute {} to filter on", shown(path, entry)));
    let schema = path.schema.as_deref().map(str::to_ascii_lowercase);
    if schema.as_deref().is_some_and(|s| s != ENTERPRISE && !s.ends_with(":core:2.0:user")) {
        return Err(unknown());
    }
    let enterprise = schema.as_deref() == Some(ENTERPRISE);
    let (attr, sub) = match entry {
        Some(parent) => (parent.to_ascii_lowercase(), Some(path.attr.to_ascii_lowercase())),
        None => (path.attr.to_ascii_lowercase(), path.sub_attr.as_deref().map(str::to_ascii_lowercase)),
    };
    let text = |column| Ok(Target::Text { column, exact: false });
    match (enterprise, attr.as_str(), sub.as_deref()) {
        (false, "id", None) => Ok(Target::Text { column: "id", exact: true }),
        (false, "externalid", None) => Ok(Target::Text { column: "external_id", exact: true }),
        (false, "username", None) => text("user_name"),
        (false, "displayname", None) | (false, "name", Some("formatted")) => text("display_name"),
        (false, "name", Some("givenname")) => text("given_name"),
        (false, "name", Some("familyname")) => text("surname"),
        (false, "title", None) => text("job_title"),
        (false, "preferredlanguage", None) => text("preferred_language"),
        (false, "active", None) => Ok(Target::Bool("active")),
        (false, "emails", None | Some("value")) => text("mail"),
        (false, "emails", Some("type")) => Ok(Target::Const("work")),
        (false, "phonenumbers", None | Some("value")) => text("mobile"),
        (false, "phonenumbers", Some("type")) => Ok(Target::Const("mobile")),
        (false, "addresses", Some("locality")) => text("city"),
        (false, "addresses", Some("postalcode")) => text("postal_code"),
        (false, "addresses", Some("country")) => text("country"),
        (false, "addresses", Some("streetaddress")) => text("street_address"),
        (false, "addresses", Some("type")) => Ok(Target::Const("work")),
        (false, "emails" | "phonenumbers" | "addresses", Some("primary")) => Ok(Target::Const("true")),
        (false, "meta", Some("created")) => Ok(Target::Time("created_at")),
        (false, "meta", Some("lastmodified")) => Ok(Target::Time("updated_at")),
        (_, "employeenumber", None) => text("employee_id"),
        (_, "department", None) => text("department"),
        (_, "manager", None | Some("value")) => Ok(Target::Text { column: "manager_id", exact: true }),
        _ => Err(unknown()),
    }
}

fn shown(path: &FilterPath, entry: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(parent) = entry {
        out.push_str(parent);
        out.push('.');
    }
    out.push_str(&path.attr);
    if let Some(sub) = &path.sub_attr {
        out.push('.');
        out.push_str(sub);
    }
    out
}

/// A filter as a SQL condition with its binds, placeholders from `$first`.
struct Sql {
    binds: Vec<Bind>,
    first: usize,
    resource: Resource,
}

impl Sql {
    fn bind(&mut self, b: Bind) -> String {
        self.binds.push(b);
        format!("${}", self.first + self.binds.len() - 1)
    }

    fn like(&mut self, text: &str, before: bool, after: bool) -> String {
        let escaped: String = text
            .to_lowercase()
            .chars()
            .flat_map(|c| if matches!(c, '\\' | '%' | '_') { vec!['\\', c] } else { vec![c] })
            .collect();
        let pattern = format!("{}{escaped}{}", if before { "%" } else { "" }, if after { "%" } else { "" });
        self.bind(Bind::Text(pattern))
    }

    fn condition(&mut self, f: &Filter, entry: Option<&str>) -> Result<String, ScimQueryError> {
        Ok(match f {
            Filter::And(a, b) => format!("({} AND {})", self.condition(a, entry)?, self.condition(b, entry)?),
            Filter::Or(a, b) => format!("({} OR {})", self.condition(a, entry)?, self.condition(b, entry)?),
            Filter::Not(a) => format!("(NOT {})", self.condition(a, entry)?),
            Filter::Present(path) => match target(self.resource, path, entry)? {
                Target::Text { column, .. } => format!("({column} IS NOT NULL AND {column} <> '')"),
                Target::Member => "(EXISTS (SELECT 1 FROM group_members pm WHERE pm.group_id = g.id))".into(),
                Target::Bool(_) | Target::Time(_) | Target::Const(_) => "(1 = 1)".into(),
            },
            Filter::ValuePath { path, filter, then } => {
                let parent = path.attr.clone();
                let inner = self.condition(filter, Some(&parent))?;
                match then {
                    Some(then) => format!("({inner} AND {})", self.condition(then, Some(&parent))?),
                    None => inner,
                }
            }
            Filter::Compare { path, op, value } => {
                self.compare(target(self.resource, path, entry)?, *op, value, path)?
            }
        })
    }

    fn compare(
        &mut self,
        target: Target,
        op: CompareOp,
        value: &Value,
        path: &FilterPath,
    ) -> Result<String, ScimQueryError> {
        let refuse = |why: &str| ScimQueryError(format!("{}: {why}", path.attr));
        match target {
            Target::Member => {
                let (Some(id), CompareOp::Eq) = (value.as_str(), op) else {
                    return Err(refuse("members are found by eq and a member's id"));
                };
                let p = self.bind(Bind::Text(id.to_string()));
                Ok(format!("(EXISTS (SELECT 1 FROM group_members fm WHERE fm.group_id = g.id AND fm.member_id = {p}))"))
            }
            Target::Const(constant) => {
                let given = match value {
                    Value::String(s) => s.to_lowercase(),
                    Value::Bool(b) => b.to_string(),
                    _ => return Err(refuse("compare it with a string")),
                };
                let holds = match op {
                    CompareOp::Eq => given == constant,
                    CompareOp::Ne => given != constant,
                    CompareOp::Co => constant.contains(&given),
                    CompareOp::Sw => constant.starts_with(&given),
                    CompareOp::Ew => constant.ends_with(&given),
                    _ => return Err(refuse("ordering does not apply")),
                };
                Ok(if holds { "(1 = 1)" } else { "(1 = 0)" }.into())
            }
            Target::Bool(column) => {
                let b = match value {
                    Value::Bool(b) => *b,
                    Value::String(s) if s.eq_ignore_ascii_case("true") => true,
                    Value::String(s) if s.eq_ignore_ascii_case("false") => false,
                    _ => return Err(refuse("a boolean is compared with true or false")),
                };
                let p = self.bind(Bind::Int(i64::from(b)));
                match op {
                    CompareOp::Eq => Ok(format!("({column} = {p})")),
                    CompareOp::Ne => Ok(format!("({column} <> {p})")),
                    _ => Err(refuse("a boolean takes eq or ne")),
                }
            }
            Target::Time(column) => {
                let Some(ms) = value
                    .as_str()
                    .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                    .map(|t| t.timestamp_millis())
                else {
                    return Err(refuse("a time is compared with an RFC 3339 date-time"));
                };
                let p = self.bind(Bind::Int(ms));
                let sql_op = match op {
                    CompareOp::Eq => "=",
                    CompareOp::Ne => "<>",
                    CompareOp::Gt => ">",
                    CompareOp::Ge => ">=",
                    CompareOp::Lt => "<",
                    CompareOp::Le => "<=",
                    _ => return Err(refuse("a time takes eq, ne, gt, ge, lt or le")),
                };
                Ok(format!("({column} {sql_op} {p})"))
            }
            Target::Text { column, exact } => {
                let text = match value {
                    Value::String(s) => s.clone(),
                    Value::Null if matches!(op, CompareOp::Eq) => return Ok(format!("({column} IS NULL)")),
                    Value::Null if matches!(op, CompareOp::Ne) => return Ok(format!("({column} IS NOT NULL)")),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return Err(refuse("compare it with a string")),
                };
                let col = if exact { column.to_string() } else { format!("LOWER({column})") };
                let folded = if exact { text.clone() } else { text.to_lowercase() };
                Ok(match op {
                    CompareOp::Eq => format!("({col} = {})", self.bind(Bind::Text(folded))),
                    CompareOp::Ne => format!("({column} IS NULL OR {col} <> {})", self.bind(Bind::Text(folded))),
                    CompareOp::Co => format!("(LOWER({column}) LIKE {} ESCAPE '\\')", self.like(&text, true, true)),
                    CompareOp::Sw => format!("(LOWER({column}) LIKE {} ESCAPE '\\')", self.like(&text, false, true)),
                    CompareOp::Ew => format!("(LOWER({column}) LIKE {} ESCAPE '\\')", self.like(&text, true, false)),
                    CompareOp::Gt => format!("({col} > {})", self.bind(Bind::Text(folded))),
                    CompareOp::Ge => format!("({col} >= {})", self.bind(Bind::Text(folded))),
                    CompareOp::Lt => format!("({col} < {})", self.bind(Bind::Text(folded))),
                    CompareOp::Le => format!("({col} <= {})", self.bind(Bind::Text(folded))),
                })
            }
        }
    }
}

/// A SCIM query: filter, sort, and a 1-based window.
#[derive(Debug, Clone, Default)]
pub struct ScimQuery {
    pub filter: Option<Filter>,
    /// The attribute to sort by (`userName`, `name.familyName`, `meta.created`...).
    pub sort_by: Option<FilterPath>,
    pub descending: bool,
    /// 1-based (RFC 7644 §3.4.2.4).
    pub start_index: i64,
    pub count: i64,
}

/// The WHERE and ORDER BY of a query, with its binds.
fn clauses(resource: Resource, q: &ScimQuery) -> Result<(String, String, Vec<Bind>), ScimQueryError> {
    let mut sql = Sql { binds: Vec::new(), first: 1, resource };
    let condition = match &q.filter {
        Some(f) => sql.condition(f, None)?,
        None => "(1 = 1)".into(),
    };
    let (default, base) = match resource {
        Resource::User => ("created_at, id", "deleted_at IS NULL"),
        Resource::Group => ("g.created_at, g.id", "1 = 1"),
    };
    let order = match &q.sort_by {
        None => default.to_string(),
        Some(path) => match target(resource, path, None)? {
            Target::Text { column, .. } | Target::Bool(column) | Target::Time(column) => {
                let dir = if q.descending { "DESC" } else { "ASC" };
                let id = if resource == Resource::Group { "g.id" } else { "id" };
                format!("{column} {dir}, {id}")
            }
            Target::Const(_) | Target::Member => default.to_string(),
        },
    };
    Ok((format!("{base} AND {condition}"), order, sql.binds))
}

fn bound<'q, O>(
    mut q: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>>,
    binds: &[Bind],
) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>> {
    for b in binds {
        q = match b {
            Bind::Text(t) => q.bind(t.clone()),
            Bind::Int(i) => q.bind(*i),
        };
    }
    q
}

impl Store {
    /// The users (not soft-deleted) a SCIM query selects, and how many there are in all.
    pub async fn scim_users(&self, q: &ScimQuery) -> Result<Result<Page<User>, ScimQueryError>, StoreError> {
        let (filter, order, binds) = match clauses(Resource::User, q) {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        let (total, offset, limit) = self.scim_count(&format!("users WHERE {filter}"), &binds, q).await?;
        if limit == 0 {
            return Ok(Ok(Page { items: Vec::new(), total, offset, limit }));
        }
        let text = format!(
            "SELECT {} FROM users WHERE {filter} ORDER BY {order} LIMIT {limit} OFFSET {offset}",
            crate::users::COLUMNS
        );
        let rows = self.scim_rows(&text, &binds).await?;
        let items = rows.iter().map(crate::users::user_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Ok(Page { items, total, offset, limit }))
    }

    /// The groups a SCIM query selects, and how many there are in all.
    pub async fn scim_groups(&self, q: &ScimQuery) -> Result<Result<Page<Group>, ScimQueryError>, StoreError> {
        let (filter, order, binds) = match clauses(Resource::Group, q) {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        let (total, offset, limit) = self.scim_count(&format!("groups g WHERE {filter}"), &binds, q).await?;
        if limit == 0 {
            return Ok(Ok(Page { items: Vec::new(), total, offset, limit }));
        }
        let text = format!(
            "SELECT {} FROM groups g WHERE {filter} ORDER BY {order} LIMIT {limit} OFFSET {offset}",
            crate::groups::COLUMNS
        );
        let rows = self.scim_rows(&text, &binds).await?;
        let items = rows.iter().map(crate::groups::group_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Ok(Page { items, total, offset, limit }))
    }

    async fn scim_count(&self, from: &str, binds: &[Bind], q: &ScimQuery) -> Result<(i64, i64, i64), StoreError> {
        let sql = format!("SELECT COUNT(*) FROM {from}");
        let (total,): (i64,) = bound(sqlx::query_as(&sql), binds).fetch_one(self.pool()).await?;
        Ok((total, q.start_index.max(1) - 1, q.count.clamp(0, 1000)))
    }

    async fn scim_rows(&self, sql: &str, binds: &[Bind]) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
        let mut rows = sqlx::query(sql);
        for b in binds {
            rows = match b {
                Bind::Text(t) => rows.bind(t.clone()),
                Bind::Int(i) => rows.bind(*i),
            };
        }
        Ok(rows.fetch_all(self.pool()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(filter: &str) -> Result<(String, Vec<Bind>), ScimQueryError> {
        let f = Filter::parse(filter).expect("parses");
        let mut s = Sql { binds: Vec::new(), first: 1, resource: Resource::User };
        let c = s.condition(&f, None)?;
        Ok((c, s.binds))
    }

    #[test]
    fn filters_become_conditions_on_columns() {
        let (c, b) = sql(r#"userName eq "Bjensen""#).expect("ok");
        assert_eq!(c, "(LOWER(user_name) = $1)");
        assert_eq!(b, vec![Bind::Text("bjensen".into())]);
        let (c, b) = sql(r#"emails[type eq "work" and value co "@Contoso_"] or not (active eq false)"#).expect("ok");
        assert_eq!(c, "(((1 = 1) AND (LOWER(mail) LIKE $1 ESCAPE '\\')) OR (NOT (active = $2)))");
        assert_eq!(b, vec![Bind::Text("%@contoso\\_%".into()), Bind::Int(0)]);
        let (c, _) =
            sql(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber pr"#).expect("ok");
        assert_eq!(c, "(employee_id IS NOT NULL AND employee_id <> '')");
        let (c, _) = sql(r#"meta.lastModified gt "2011-05-13T04:42:34Z""#).expect("ok");
        assert_eq!(c, "(updated_at > $1)");
    }

    #[test]
    fn an_attribute_the_directory_does_not_keep_is_refused() {
        assert!(sql(r#"nickName eq "x""#).is_err());
        assert!(sql(r#"active gt true"#).is_err());
        assert!(sql(r#"meta.created gt "yesterday""#).is_err());
    }
}
