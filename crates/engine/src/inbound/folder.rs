//! The watched folder: `<dir>/<source name>/*.csv`. A file is taken once it
//! has not changed for two seconds (write it under another name and rename it
//! in, to be sure), queued as a batch of its source, and moved to
//! `processed/` — or to `failed/`, with a `.error.txt` beside it saying why.

use super::records;
use crate::{Engine, EngineError};
use std::path::{Path, PathBuf};

/// The largest file taken (a larger one goes to `failed/`).
const MAX_FILE: u64 = 100 * 1024 * 1024;
/// How long a file must sit unchanged before it is taken.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(2);

impl Engine {
    /// Takes the files waiting in the watched folder.
    pub(crate) async fn scan_folder(self: &std::sync::Arc<Self>, dir: &Path) -> Result<(), EngineError> {
        for id in self.store.source_ids().await? {
            // A source whose settings do not load takes no file (its status says why).
            let Ok(source) = self.load_source(&id).await else { continue };
            if source.template != super::SourceTemplate::HrCsv {
                continue;
            }
            let inbox = dir.join(&source.name);
            for file in settled_files(&inbox) {
                let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let read = read_file(&file);
                let outcome = match read {
                    Ok(rows) => self.submit_records(&source.id, "folder", rows).await.map(|b| b.id),
                    Err(e) => Err(EngineError::Invalid(e)),
                };
                match outcome {
                    Ok(batch) => {
                        tracing::info!(source = %source.name, file = %name, batch = %batch, "took a file from the watched folder");
                        move_to(&inbox, "processed", &file, &format!("{batch}-{name}"), None);
                    }
                    Err(e) => {
                        tracing::warn!(source = %source.name, file = %name, error = %e, "refused a file of the watched folder");
                        move_to(&inbox, "failed", &file, &name, Some(&e.to_string()));
                    }
                }
            }
        }
        Ok(())
    }
}

/// The `.csv` files directly in `inbox` that have not changed for a while.
fn settled_files(inbox: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(inbox) else { return Vec::new() };
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| e.path().extension().is_some_and(|x| x.eq_ignore_ascii_case("csv")))
        .filter(|e| e.metadata().and_then(|m| m.modified()).is_ok_and(|t| t.elapsed().is_ok_and(|age| age >= SETTLE)))
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

fn read_file(file: &Path) -> Result<Vec<serde_json::Value>, String> {
    let size = std::fs::metadata(file).map_err(|e| e.to_string())?.len();
    if size > MAX_FILE {
        return Err(format!("the file is {size} bytes; at most {MAX_FILE} are taken"));
    }
    let bytes = std::fs::read(file).map_err(|e| e.to_string())?;
    let text = String::from_utf8(bytes).map_err(|_| "the file is not UTF-8 text".to_string())?;
    records::csv_rows(&text).map_err(|e| e.0)
}

/// Moves `file` into `inbox/<sub>/<name>`, with the error beside it.
fn move_to(inbox: &Path, sub: &str, file: &Path, name: &str, error: Option<&str>) {
    let target = inbox.join(sub);
    let moved = std::fs::create_dir_all(&target).and_then(|_| std::fs::rename(file, target.join(name)));
    if let Err(e) = moved {
        tracing::warn!(file = %file.display(), error = %e, "cannot move a file of the watched folder");
        return;
    }
    if let Some(error) = error {
        let _ = std::fs::write(target.join(format!("{name}.error.txt")), format!("{error}\n"));
    }
}
