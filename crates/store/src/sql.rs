//! SQL text shared by the store's statements: `IN` lists and many-row inserts
//! with their placeholders, and statements rewritten for how each backend
//! binds parameters fastest.

use crate::Backend;

/// Ids per `IN (...)` list. SQLite finds a numbered parameter's name by a
/// linear search, once per parameter bound, so a statement with numbered
/// parameters binds in time that grows with the square of their number. A
/// statement through [`for_backend`] has anonymous parameters on SQLite and
/// binds in linear time; lists of 400 measured no faster than lists of 100.
pub(crate) const IN_LIST: usize = 100;

/// `sql` as `backend` binds it fastest. On SQLite, a statement whose
/// parameters are `$1, $2, ... $n`, each once and in that order, gets
/// anonymous `?` parameters instead (bound in order, the same values):
/// SQLite finds a numbered parameter by a linear search at every bind, so the
/// many-row statements of a record would bind in quadratic time. Any other
/// statement is returned as it is.
pub(crate) fn for_backend(backend: Backend, sql: String) -> String {
    if backend != Backend::Sqlite {
        return sql;
    }
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let (mut next, mut copied, mut i) = (1usize, 0usize, 0usize);
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        let digits = bytes[i + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
        let number: Option<usize> = sql[i + 1..i + 1 + digits].parse().ok();
        if number != Some(next) {
            return sql;
        }
        out.push_str(&sql[copied..i]);
        out.push('?');
        next += 1;
        i += 1 + digits;
        copied = i;
    }
    out.push_str(&sql[copied..]);
    out
}

/// The text of a statement of a given shape (`tag`, for a number of rows or
/// ids), as `build` writes it and [`for_backend`] rewrites it, made once per
/// thread: a record writes the same few shapes for every wave, and writing
/// their placeholders again each time cost more than the rows' values.
pub(crate) fn shaped(
    backend: Backend,
    tag: &'static str,
    size: usize,
    build: impl FnOnce() -> String,
) -> std::sync::Arc<str> {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::sync::Arc;
    type Shapes = HashMap<(Backend, &'static str, usize), Arc<str>, foldhash::fast::RandomState>;
    thread_local! {
        static SHAPES: RefCell<Shapes> = RefCell::new(Shapes::default());
    }
    /// Shapes kept per thread; the cache starts over past this.
    const KEPT: usize = 512;
    let key = (backend, tag, size);
    if let Some(hit) = SHAPES.with(|s| s.borrow().get(&key).cloned()) {
        return hit;
    }
    let sql: Arc<str> = Arc::from(for_backend(backend, build()));
    SHAPES.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() >= KEPT {
            s.clear();
        }
        s.insert(key, sql.clone());
    });
    sql
}

/// The backend a connection talks to.
pub(crate) fn backend_of(conn: &sqlx::AnyConnection) -> Backend {
    match conn.backend_name() {
        "PostgreSQL" => Backend::Postgres,
        _ => Backend::Sqlite,
    }
}

/// Ids per `IN (...)` list on `backend`: PostgreSQL pays per statement, not
/// per parameter, so its lists are long.
pub(crate) fn in_list(backend: Backend) -> usize {
    match backend {
        Backend::Sqlite => IN_LIST,
        Backend::Postgres => 1000,
    }
}

/// Rows of `cols` values per multi-row statement (about `IN_LIST` parameters).
pub(crate) fn rows_per_statement(cols: usize) -> usize {
    (IN_LIST + 20) / cols.max(1)
}

/// `$start, $start+1, ...` for `n` values.
pub(crate) fn placeholders(start: usize, n: usize) -> String {
    let mut out = String::with_capacity(n * 5);
    push_placeholders(&mut out, start, n);
    out
}

/// `($start, ..., $start+cols-1), (...)` for `rows` rows of `cols` values each.
pub(crate) fn row_placeholders(start: usize, cols: usize, rows: usize) -> String {
    let mut out = String::with_capacity(rows * (cols * 5 + 4));
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        push_placeholders(&mut out, start + r * cols, cols);
        out.push(')');
    }
    out
}

/// Appends `$start,...,$start+n-1` to `out`, without a string per parameter.
fn push_placeholders(out: &mut String, start: usize, n: usize) {
    use std::fmt::Write;
    for i in start..start + n {
        if i > start {
            out.push(',');
        }
        // Writing into a String cannot fail.
        let _ = write!(out, "${i}");
    }
}

/// Escapes LIKE's wildcards so that free text matches literally.
pub(crate) fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

#[cfg(test)]
mod tests {
    use super::{for_backend, placeholders, row_placeholders, shaped};
    use crate::Backend;

    #[test]
    fn placeholders_number_values_from_where_they_start() {
        assert_eq!(placeholders(2, 3), "$2,$3,$4");
        assert_eq!(placeholders(1, 0), "");
        assert_eq!(row_placeholders(3, 2, 2), "($3,$4), ($5,$6)");
        assert_eq!(row_placeholders(1, 3, 1), "($1,$2,$3)");
    }

    #[test]
    fn sqlite_gets_anonymous_parameters_only_when_they_run_in_order() {
        let check = |sql: &str, want: &str| assert_eq!(for_backend(Backend::Sqlite, sql.to_string()), want, "{sql}");
        check("SELECT 1 FROM t WHERE a = $1 AND b IN ($2,$3)", "SELECT 1 FROM t WHERE a = ? AND b IN (?,?)");
        check(&format!("INSERT INTO t VALUES {}", row_placeholders(1, 2, 2)), "INSERT INTO t VALUES (?,?), (?,?)");
        check("SELECT 1", "SELECT 1");
        check("UPDATE t SET a = $10 WHERE b = $1", "UPDATE t SET a = $10 WHERE b = $1");
        // A parameter used twice, or out of order, keeps its number.
        check("INSERT INTO t VALUES ($1, $2, $1)", "INSERT INTO t VALUES ($1, $2, $1)");
        check("INSERT INTO t VALUES ($2, $1)", "INSERT INTO t VALUES ($2, $1)");
        check("SELECT $", "SELECT $");
        let pg = "SELECT 1 FROM t WHERE a = $1";
        assert_eq!(for_backend(Backend::Postgres, pg.to_string()), pg);
    }

    #[test]
    fn a_shape_is_written_once_per_backend_and_size() {
        let built = std::cell::Cell::new(0);
        let build = |n: usize| {
            built.set(built.get() + 1);
            format!("DELETE FROM t WHERE a = $1 AND b IN ({})", placeholders(2, n))
        };
        let sqlite = shaped(Backend::Sqlite, "test-shape", 2, || build(2));
        assert_eq!(&*sqlite, "DELETE FROM t WHERE a = ? AND b IN (?,?)");
        assert_eq!(&*shaped(Backend::Sqlite, "test-shape", 2, || build(2)), &*sqlite);
        assert_eq!(built.get(), 1, "the second call is served from the cache");
        assert_eq!(
            &*shaped(Backend::Postgres, "test-shape", 2, || build(2)),
            "DELETE FROM t WHERE a = $1 AND b IN ($2,$3)"
        );
        assert_eq!(
            &*shaped(Backend::Sqlite, "test-shape", 3, || build(3)),
            "DELETE FROM t WHERE a = ? AND b IN (?,?,?)"
        );
        assert_eq!(built.get(), 3);
    }
}
