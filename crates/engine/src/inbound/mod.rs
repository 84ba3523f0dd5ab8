//! Inbound provisioning: HR systems push people into the directory, and the HR
//! rules (joiner, mover, leaver, rehire) decide what happens to each. A source
//! sends batches — a SCIM BulkRequest of users, or a CSV file posted or dropped
//! in the watched folder. A batch is stored first (queued), then applied one
//! record at a time ([`plan`] decides, the store writes the user, its scheduled
//! actions and its log entry in one transaction), unless it would disable more
//! users than the source allows: then it is held for an admin's approval.
//! Dates the rules put off (a hire's start, a leaver's end) run when due.
//! Every change reaches the apps through the change feed, like any other.

mod apply;
mod folder;
mod plan;
pub mod records;
pub mod rules;
pub mod settings;

use crate::{Engine, EngineError};
use roster_mapping::CompiledObjectMapping;
use roster_store::inbound::{InboundBatch, Scheduled};
use roster_store::{AppId, BatchStatus};
use serde::{Deserialize, Serialize};
pub use settings::{SourceSettings, SourceTemplate};
use std::sync::atomic::{AtomicI64, Ordering};

/// A source, loaded: its settings and its compiled mapping.
pub(crate) struct Source {
    pub id: AppId,
    pub name: String,
    pub template: SourceTemplate,
    pub settings: SourceSettings,
    pub mapping: CompiledObjectMapping,
}

/// What the engine keeps for inbound work.
#[derive(Default)]
pub(crate) struct Inbound {
    /// One batch or schedule run at a time in this process.
    lock: tokio::sync::Mutex<()>,
    /// The watched folder (`roster serve --inbound-dir`).
    dir: std::sync::Mutex<Option<std::path::PathBuf>>,
    /// When the background pass last ran (milliseconds).
    last: AtomicI64,
    /// A scan of the watched folder is under way (a file is queued once).
    scanning: std::sync::atomic::AtomicBool,
    /// When scheduled drift checks were last looked for (milliseconds).
    pub(crate) drift_last: AtomicI64,
}

/// A source as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceView {
    pub id: AppId,
    pub name: String,
    pub template: SourceTemplate,
    pub settings: SourceSettings,
    /// Batches waiting for an admin's approval.
    pub held: Vec<InboundBatch>,
    /// The latest batches, newest first.
    pub batches: Vec<InboundBatch>,
    /// The soonest scheduled actions (starts, ends, put-off hires).
    pub scheduled: Vec<Scheduled>,
}

/// A batch the running of which took too long to wait for: it goes on in the
/// background. Running batches untouched for this long are taken again.
const STALE_MS: i64 = 10 * 60 * 1000;

impl Engine {
    /// Sets the folder watched for CSV files: `<dir>/<source name>/*.csv`.
    pub fn watch_inbound_dir(&self, dir: std::path::PathBuf) {
        *self.inbound.dir.lock().unwrap_or_else(|p| p.into_inner()) = Some(dir);
    }

    pub(crate) async fn load_source(&self, id: &AppId) -> Result<Source, EngineError> {
        let app = self.store.app(id).await?;
        let template = SourceTemplate::parse(&app.template).ok_or_else(|| not_a_source(&app.name))?;
        let raw = self.store.source_settings(id).await?.ok_or_else(|| not_a_source(&app.name))?;
        let settings: SourceSettings = serde_json::from_str(&raw).map_err(|e| EngineError::Corrupt {
            app: id.clone(),
            column: "settings",
            message: e.to_string(),
        })?;
        let mapping = settings.compile()?;
        Ok(Source { id: id.clone(), name: app.name, template, settings, mapping })
    }

    /// Creates a source from an inbound template (`hr-scim`, `hr-csv`).
    pub async fn create_source(&self, name: &str, template: &str) -> Result<SourceView, EngineError> {
        let t = SourceTemplate::parse(template).ok_or_else(|| {
            EngineError::invalid_setting(
                "template",
                format!("{template:?} is not a source template: hr-scim or hr-csv"),
            )
        })?;
        let settings = SourceSettings::template(t);
        settings.compile()?;
        let raw = serde_json::to_string(&settings).map_err(|e| EngineError::Invalid(e.to_string()))?;
        let app = self.store.create_source(name, t.as_str(), &raw).await?;
        self.source(&app.id).await
    }

    /// A source with its held and latest batches and its next scheduled actions.
    pub async fn source(&self, id: &AppId) -> Result<SourceView, EngineError> {
        let source = self.load_source(id).await?;
        let batches = self.store.batches(id, 20).await?;
        let held = batches.iter().filter(|b| b.status == BatchStatus::Held).cloned().collect();
        let scheduled = self.store.scheduled(id, 20).await?;
        Ok(SourceView {
            id: id.clone(),
            name: source.name,
            template: source.template,
            settings: source.settings,
            held,
            batches,
            scheduled,
        })
    }

    /// Every source.
    pub async fn sources(&self) -> Result<Vec<SourceView>, EngineError> {
        let mut out = Vec::new();
        for id in self.store.source_ids().await? {
            out.push(self.source(&id).await?);
        }
        out.sort_by_key(|a| a.name.to_lowercase());
        Ok(out)
    }

    /// Replaces a source's settings (checked first: an error names the field).
    pub async fn configure_source(&self, id: &AppId, settings: SourceSettings) -> Result<SourceView, EngineError> {
        self.load_source(id).await?;
        settings.compile()?;
        let raw = serde_json::to_string(&settings).map_err(|e| EngineError::Invalid(e.to_string()))?;
        self.store.save_source_settings(id, &raw).await?;
        self.source(id).await
    }

    /// Takes a batch of flat records from a source: stores it, then applies it
    /// (or holds it). Returns the batch as it stands once done. The work goes on
    /// even if the caller stops waiting.
    pub async fn submit_records(
        self: &std::sync::Arc<Self>,
        id: &AppId,
        origin: &str,
        records: Vec<serde_json::Value>,
    ) -> Result<InboundBatch, EngineError> {
        self.load_source(id).await?;
        let now = self.clock.now_ms();
        let batch = self.store.queue_batch(id, origin, &serde_json::Value::Array(records), now).await?;
        self.run_batches_detached().await;
        Ok(self.store.batch(id, &batch).await?.0)
    }

    /// An admin's decision on a held batch: approved (applied now, past the
    /// threshold) or rejected.
    pub async fn decide_batch(
        self: &std::sync::Arc<Self>,
        id: &AppId,
        batch: &str,
        approve: bool,
        by: &str,
    ) -> Result<InboundBatch, EngineError> {
        self.load_source(id).await?;
        self.store.decide_batch(id, batch, approve, by).await?;
        if approve {
            self.run_batches_detached().await;
        }
        Ok(self.store.batch(id, batch).await?.0)
    }

    /// Runs the queued batches on a task of its own (not cancelled when the
    /// caller goes away), and waits for it.
    async fn run_batches_detached(self: &std::sync::Arc<Self>) {
        let engine = self.clone();
        let task = tokio::spawn(async move { engine.run_batches().await });
        match task.await {
            Ok(Err(e)) => tracing::warn!(error = %e, "an inbound batch stopped; it is taken again later"),
            Err(e) => tracing::warn!(error = %e, "the inbound task ended abnormally"),
            Ok(Ok(())) => {}
        }
    }

    /// Applies every queued batch, oldest first.
    async fn run_batches(&self) -> Result<(), EngineError> {
        let _one = self.inbound.lock.lock().await;
        if !self.store.batches_waiting().await? {
            return Ok(());
        }
        loop {
            let now = self.clock.now_ms();
            // On SQLite this process is the only one and holds the lock: a batch
            // still marked running was cut short (a crash) and is taken again now.
            let stale_before = match self.store.backend() {
                roster_store::Backend::Sqlite => i64::MAX,
                roster_store::Backend::Postgres => now - STALE_MS,
            };
            let Some((batch, records)) = self.store.claim_batch(now, stale_before).await? else {
                return Ok(());
            };
            let approved = batch.decided_by.is_some();
            let records = match records {
                serde_json::Value::Array(r) => r,
                _ => Vec::new(),
            };
            match self.load_source(&batch.source_id).await {
                Ok(source) => self.apply_batch(&source, &batch.id, &records, approved).await?,
                // The store failing is not the batch's fault: it stays, to be taken again.
                Err(
                    e @ EngineError::Store(roster_store::StoreError::Database(_) | roster_store::StoreError::Io { .. }),
                ) => return Err(e),
                Err(e) => {
                    let summary = serde_json::json!({"records": records.len(), "error": e.to_string()});
                    self.store.finish_batch(&batch.id, BatchStatus::Rejected, &summary, now).await?;
                }
            }
        }
    }

    /// The background pass, at most once a second: queued batches, due
    /// scheduled actions, the watched folder. Tests call it on their clock.
    pub async fn inbound_tick(self: &std::sync::Arc<Self>) {
        if self.inbound.lock.try_lock().is_err() {
            return;
        }
        let now = self.clock.now_ms();
        let last = self.inbound.last.load(Ordering::SeqCst);
        if now >= last && now - last < 1000 {
            return;
        }
        self.inbound.last.store(now, Ordering::SeqCst);
        self.inbound_pass().await;
    }

    /// One background pass, now.
    pub async fn inbound_pass(self: &std::sync::Arc<Self>) {
        let dir = self.inbound.dir.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(dir) = dir {
            if !self.inbound.scanning.swap(true, Ordering::SeqCst) {
                if let Err(e) = self.scan_folder(&dir).await {
                    tracing::warn!(error = %e, "cannot read the watched inbound folder");
                }
                self.inbound.scanning.store(false, Ordering::SeqCst);
            }
        }
        if let Err(e) = self.run_batches().await {
            tracing::warn!(error = %e, "an inbound batch stopped; it is taken again later");
        }
        if let Err(e) = self.run_due_actions().await {
            tracing::warn!(error = %e, "scheduled inbound actions stopped; they run again on the next pass");
        }
        if let Err(e) = self.drift_pass().await {
            tracing::warn!(error = %e, "cannot look for scheduled drift checks");
        }
    }
}

fn not_a_source(name: &str) -> EngineError {
    EngineError::Invalid(format!("{name} is not an inbound source"))
}
