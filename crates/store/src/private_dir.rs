//! The data directory holds the SQLite database (every user's attributes), the
//! master key that opens the sealed credentials, and the admin token: only the
//! account roster runs as may read it. The directory is made 0700 and every file
//! in it 0600, whatever the umask, and a directory an older version left open is
//! tightened on start.

use crate::StoreError;
use std::path::Path;

/// The database file in the data directory.
pub(crate) const DATABASE_FILE: &str = "roster.db";

/// Creates `data_dir` (mode 0700) or tightens it, and sets every file in it to 0600.
pub fn prepare_data_dir(data_dir: &Path) -> Result<(), StoreError> {
    let io = |what: String| move |source| StoreError::Io { what, source };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(data_dir).map_err(io(format!("create the data directory {}", data_dir.display())))?;
    #[cfg(unix)]
    {
        restrict(data_dir, 0o700)?;
        let entries =
            std::fs::read_dir(data_dir).map_err(io(format!("read the data directory {}", data_dir.display())))?;
        for entry in entries {
            let entry = entry.map_err(io(format!("read the data directory {}", data_dir.display())))?;
            // A symlink is left alone: its target may be anything, anywhere.
            let kind = entry.file_type().map_err(io(format!("inspect {}", entry.path().display())))?;
            if kind.is_file() {
                restrict(&entry.path(), 0o600)?;
            }
        }
    }
    Ok(())
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path)
        .map_err(|source| StoreError::Io { what: format!("inspect {}", path.display()), source })?;
    if meta.permissions().mode() & 0o777 != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|source| StoreError::Io { what: format!("set the permissions of {}", path.display()), source })?;
    }
    Ok(())
}

/// Creates `path` empty with mode 0600 when it does not exist; an existing file
/// is not touched. An empty file is a valid, empty SQLite database, and SQLite
/// gives its `-wal` and `-shm` files the mode of the database file, so creating
/// it here first makes them private too.
pub(crate) fn create_private_file(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(drop).map_err(|source| StoreError::Io { what: format!("create {}", path.display()), source })
}
