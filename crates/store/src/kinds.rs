//! The closed sets of words the provisioning state is kept in: a job's phase,
//! the kind of a provisioned object, and a log entry's action and status. Each
//! is stored as TEXT and answered in JSON as exactly the word it always was; an
//! unknown word is refused where it is read (an API caller's filter, a stored
//! column), never taken for a default.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A word that names none of the values of one of the store's enums.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}: expected one of {expected}")]
pub struct UnknownValue {
    /// What the word should have named (`phase`, `log status`...).
    pub what: &'static str,
    /// The word as given.
    pub value: String,
    /// The words allowed, comma-separated.
    pub expected: String,
}

impl From<UnknownValue> for crate::StoreError {
    fn from(e: UnknownValue) -> crate::StoreError {
        crate::StoreError::Invalid { message: e.to_string() }
    }
}

/// Declares an enum of words: `as_str`, `FromStr`, `Display`, serde as the
/// word, an OpenAPI schema, and sqlx encoding and decoding as TEXT on every
/// backend whose text type it is given (SQLite, PostgreSQL, and `Any`).
macro_rules! text_enum {
    (
        $(#[$doc:meta])*
        $name:ident, $what:tt {
            $( $(#[$vdoc:meta])* $variant:ident => $text:tt ),+ $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
        )]
        pub enum $name {
            $( $(#[$vdoc])* #[serde(rename = $text)] $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The word stored and answered.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text ),+
                }
            }

            /// Reads a word written in any case (`failure` for `Failure`): the
            /// form filters are given in.
            pub fn parse_ignoring_case(s: &str) -> Result<$name, UnknownValue> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str().eq_ignore_ascii_case(s))
                    .ok_or_else(|| $name::unknown(s))
            }

            fn unknown(s: &str) -> UnknownValue {
                UnknownValue {
                    what: $what,
                    value: s.to_string(),
                    expected: $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", "),
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;

            /// Reads the word exactly as it is stored.
            fn from_str(s: &str) -> Result<$name, UnknownValue> {
                match s {
                    $( $text => Ok($name::$variant), )+
                    other => Err($name::unknown(other)),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl<DB: sqlx::Database> sqlx::Type<DB> for $name
        where
            str: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $name
        where
            &'q str: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                let text: &'q str = self.as_str();
                <&'q str as sqlx::Encode<'q, DB>>::encode(text, buf)
            }
        }

        /// An unknown word in the column is an error (naming the column where
        /// it is read), never a default.
        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $name
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(value: <DB as sqlx::Database>::ValueRef<'r>) -> Result<$name, sqlx::error::BoxDynError> {
                let text = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
                Ok(text.parse::<$name>()?)
            }
        }
    };
}

text_enum!(
    /// Where a job's cycles are: walking every user (`initial`), or following
    /// the change feed (`incremental`).
    Phase, "phase" {
        /// Every object in scope is walked, matched and sent.
        Initial => "initial",
        /// Only what the change feed says changed is sent.
        Incremental => "incremental",
    }
);

text_enum!(
    /// The kind of a provisioned object: its shadow, log entries, escrow and
    /// hand-off items are kept per kind.
    ObjectKind, "object kind" {
        /// A user (an account in the app).
        User => "user",
        /// A group.
        Group => "group",
    }
);

text_enum!(
    /// What a cycle did to one object, as its log entry says.
    LogAction, "log action" {
        /// An account (or group) was created in the app.
        Create => "Create",
        /// Its attributes (or members) were changed, or it was matched and recorded.
        Update => "Update",
        /// The account was disabled (never deleted).
        Disable => "Disable",
        /// The account was enabled again.
        Enable => "Enable",
        /// The group was deleted in the app.
        Delete => "Delete",
        /// Nothing was sent.
        Skip => "Skip",
    }
);

text_enum!(
    /// How the action of a log entry ended.
    LogStatus, "log status" {
        /// The app took it.
        Success => "Success",
        /// It failed (the entry's error says why).
        Failure => "Failure",
        /// Nothing was sent, on purpose (the mapping does not allow it).
        Skipped => "Skipped",
        /// Held by the accidental-deletion guard until deletes are allowed.
        Staged => "Staged",
        /// It went through with something to look at.
        Warning => "Warning",
    }
);

text_enum!(
    /// Where a batch of an inbound source stands.
    BatchStatus, "batch status" {
        /// Received, waiting to be applied.
        Queued => "queued",
        /// Being applied.
        Running => "running",
        /// It would disable more users than the source's threshold allows: it
        /// waits for an admin to approve or reject it.
        Held => "held",
        /// Applied (each record's outcome is in the source's log).
        Applied => "applied",
        /// Rejected by an admin: nothing of it was applied.
        Rejected => "rejected",
    }
);

text_enum!(
    /// What a source's rules put off to a date.
    ScheduledAction, "scheduled action" {
        /// Create the user (a hire, `prehireDays` before the start date).
        Create => "create",
        /// Enable the user (a hire's or a rehire's start date).
        Enable => "enable",
        /// Disable the user (a leaver's end date).
        Disable => "disable",
    }
);

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Each value reads back from its word, and serde writes exactly that word.
    fn round_trips<T>(all: &[T], as_str: fn(T) -> &'static str)
    where
        T: Copy + PartialEq + fmt::Debug + FromStr<Err = UnknownValue> + Serialize + for<'de> Deserialize<'de>,
    {
        for v in all {
            let word = as_str(*v);
            assert_eq!(word.parse::<T>().ok(), Some(*v));
            assert_eq!(serde_json::to_value(v).ok(), Some(serde_json::Value::String(word.to_string())));
            assert_eq!(serde_json::from_value::<T>(serde_json::json!(word)).ok(), Some(*v));
        }
    }

    #[test]
    fn words_are_the_stored_ones() {
        round_trips(Phase::ALL, Phase::as_str);
        round_trips(ObjectKind::ALL, ObjectKind::as_str);
        round_trips(LogAction::ALL, LogAction::as_str);
        round_trips(LogStatus::ALL, LogStatus::as_str);
        assert_eq!(Phase::Incremental.as_str(), "incremental");
        assert_eq!(ObjectKind::Group.as_str(), "group");
        assert_eq!(LogAction::Disable.as_str(), "Disable");
        assert_eq!(LogStatus::Skipped.as_str(), "Skipped");
    }

    #[test]
    fn an_unknown_word_is_an_error_naming_it() {
        let e = "Initial".parse::<Phase>().err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("unknown phase \"Initial\": expected one of initial, incremental"));
        assert!("".parse::<ObjectKind>().is_err());
        assert!(serde_json::from_value::<LogStatus>(serde_json::json!("success")).is_err());
        let e = LogAction::parse_ignoring_case("Remove").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("log action \"Remove\""), "{e}");
    }

    #[test]
    fn filters_ignore_case() {
        assert_eq!(LogStatus::parse_ignoring_case("failure").ok(), Some(LogStatus::Failure));
        assert_eq!(LogAction::parse_ignoring_case("UPDATE").ok(), Some(LogAction::Update));
    }

    /// The stores to check: SQLite, and PostgreSQL (a fresh database) when
    /// `ROSTER_TEST_POSTGRES` names a server.
    pub(crate) async fn stores(dir: &std::path::Path) -> Vec<crate::Store> {
        use sqlx::{Connection, Executor};
        let mut out = vec![crate::Store::open_sqlite(dir).await.expect("open sqlite")];
        if let Some(base) = std::env::var("ROSTER_TEST_POSTGRES").ok().filter(|s| !s.is_empty()) {
            sqlx::any::install_default_drivers();
            let name = format!("roster_t_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::AnyConnection::connect(&base).await.expect("connect to ROSTER_TEST_POSTGRES");
            conn.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create test database");
            let (prefix, _) = base.rsplit_once('/').expect("a postgres URL ends with /database");
            let store = crate::Store::connect(&format!("{prefix}/{name}")).await.expect("open postgres");
            out.push(store);
        }
        out
    }

    /// A SCIM app named `name` in `store`.
    pub(crate) async fn scim_app(store: &crate::Store, name: &str) -> crate::AppId {
        store.create_app(crate::ApplicationInput { name: name.into(), template: "scim".into() }).await.expect("app").id
    }

    fn log(app: &crate::AppId, id: &str) -> crate::LogRecord {
        crate::LogRecord {
            id: id.into(),
            app_id: app.clone(),
            cycle_id: "c1".into(),
            change_id: "1".into(),
            at: 1,
            object_kind: ObjectKind::Group,
            source_id: "g1".into(),
            source_name: None,
            target_id: None,
            action: LogAction::Delete,
            status: LogStatus::Staged,
            steps: Vec::new(),
            modified: Vec::new(),
            error_code: None,
            error_message: None,
        }
    }

    /// The words are written as text and read back; a column holding a word
    /// none of them names is unreadable data that names its column.
    #[tokio::test]
    async fn columns_hold_the_words_and_an_unknown_one_is_corrupt() {
        let dir = std::env::temp_dir().join(format!("roster-kinds-{}", uuid::Uuid::new_v4().simple()));
        for store in stores(&dir).await {
            let backend = store.backend();
            let app = scim_app(&store, "Crm").await;
            store.save_job_config(&app, &serde_json::json!({}), None, None).await.expect("job");
            let update = crate::JobStateUpdate { phase: Some(Phase::Incremental), ..Default::default() };
            store.update_job_state(&app, &update).await.expect("phase");
            let batch = crate::RecordBatch { logs: vec![log(&app, "l1")], ..Default::default() };
            store.record(&app, &batch).await.expect("record");

            let text: String = sqlx::query_scalar("SELECT phase FROM jobs WHERE app_id = $1")
                .bind(app.as_str())
                .fetch_one(store.pool())
                .await
                .expect("phase text");
            assert_eq!(text, "incremental", "{backend:?}");
            let row: (String, String, String) =
                sqlx::query_as("SELECT object_kind, action, status FROM provisioning_log WHERE id = 'l1'")
                    .fetch_one(store.pool())
                    .await
                    .expect("log text");
            assert_eq!(row, ("group".into(), "Delete".into(), "Staged".into()), "{backend:?}");
            assert_eq!(store.job(&app).await.expect("job").map(|j| j.phase), Some(Phase::Incremental));
            let q = crate::LogQuery { status: Some(LogStatus::Staged), ..Default::default() };
            let page = store.logs(&app, &q).await.expect("logs");
            assert_eq!(page.items, vec![log(&app, "l1")], "{backend:?}");
            let q = crate::LogQuery { action: Some(LogAction::Create), ..Default::default() };
            assert_eq!(store.logs(&app, &q).await.expect("logs").total, 0, "{backend:?}");

            sqlx::query("UPDATE jobs SET phase = 'sideways'").execute(store.pool()).await.expect("corrupt phase");
            let e = store.job(&app).await.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains("phase") && e.contains("\"sideways\""), "{backend:?}: {e}");
            sqlx::query("UPDATE provisioning_log SET status = 'Fine'").execute(store.pool()).await.expect("corrupt");
            match store.logs(&app, &crate::LogQuery::default()).await {
                Err(crate::StoreError::Corrupt { message }) => {
                    assert!(message.contains("status") && message.contains("\"Fine\""), "{backend:?}: {message}")
                }
                other => panic!("{backend:?}: expected unreadable data, got {other:?}"),
            }
            store.close().await;
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
