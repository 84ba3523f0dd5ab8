//! Traces over OTLP/HTTP (OpenTelemetry's protocol, its JSON encoding): a
//! `tracing` layer that turns closed spans into OTLP spans and a task that posts
//! them in batches to `{endpoint}/v1/traces`. A span's trace is its root's (a
//! cycle); its attributes are its fields. The exporter never holds the engine
//! back: when the collector is slow or away, spans past the queue's bound are
//! dropped and counted, and a batch that cannot be posted is dropped after one
//! try, with a warning.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::Subscriber;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Spans waiting to be posted, at most.
const QUEUE: usize = 8192;
/// Spans per request, at most.
const BATCH: usize = 512;

/// Where and how traces go.
#[derive(Debug, Clone)]
pub struct OtlpConfig {
    /// The collector's base URL (`http://127.0.0.1:4318`); spans go to `/v1/traces`.
    pub endpoint: String,
    /// `service.name` of the resource.
    pub service_name: String,
    /// How long spans wait before a batch is posted.
    pub interval: Duration,
}

/// A closed span, ready to be encoded.
#[derive(Debug, Clone)]
struct Finished {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    parent: Option<[u8; 8]>,
    name: &'static str,
    client: bool,
    start: u64,
    end: u64,
    attributes: Vec<(&'static str, Value)>,
}

/// A span while it is open (kept in the registry's extensions).
struct Open {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    parent: Option<[u8; 8]>,
    start: u64,
    attributes: Vec<(&'static str, Value)>,
}

struct Fields<'a>(&'a mut Vec<(&'static str, Value)>);

impl Fields<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        let name = field.name();
        match self.0.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }
}

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_string()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, json!(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, json!(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, json!(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, json!(value));
    }
}

fn now_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

fn random<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    let mut filled = 0;
    while filled < N {
        let bytes = uuid::Uuid::new_v4().into_bytes();
        let take = (N - filled).min(bytes.len());
        out[filled..filled + take].copy_from_slice(&bytes[..take]);
        filled += take;
    }
    out
}

fn hex<const N: usize>(bytes: &[u8; N]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The layer that hands closed spans to the exporter.
pub struct OtlpLayer {
    tx: mpsc::Sender<Finished>,
    dropped: Arc<AtomicU64>,
}

/// The exporter's handle: how many spans were dropped, and a flush.
#[derive(Clone)]
pub struct OtlpHandle {
    dropped: Arc<AtomicU64>,
    flush: mpsc::Sender<tokio::sync::oneshot::Sender<()>>,
}

impl OtlpHandle {
    /// Spans dropped because the queue was full or the collector refused them.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Posts what is queued now, and waits for it (at most 10 s).
    pub async fn flush(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.flush.send(tx).await.is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(10), rx).await;
        }
    }
}

/// The layer, and the exporter task posting what it hands over (spawned on the
/// current Tokio runtime).
pub fn layer(config: OtlpConfig) -> (OtlpLayer, OtlpHandle) {
    let (tx, rx) = mpsc::channel(QUEUE);
    let (flush, flushes) = mpsc::channel(4);
    let dropped = Arc::new(AtomicU64::new(0));
    tokio::spawn(export(config, rx, flushes, dropped.clone()));
    (OtlpLayer { tx, dropped: dropped.clone() }, OtlpHandle { dropped, flush })
}

impl<S> Layer<S> for OtlpLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let parent = span.parent().and_then(|p| p.extensions().get::<Open>().map(|o| (o.trace_id, o.span_id)));
        let mut attributes = Vec::new();
        attrs.record(&mut Fields(&mut attributes));
        let open = Open {
            trace_id: parent.map(|p| p.0).unwrap_or_else(random),
            span_id: random(),
            parent: parent.map(|p| p.1),
            start: now_nanos(),
            attributes,
        };
        span.extensions_mut().insert(open);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(open) = span.extensions_mut().get_mut::<Open>() {
                values.record(&mut Fields(&mut open.attributes));
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(open) = span.extensions_mut().remove::<Open>() else { return };
        let finished = Finished {
            trace_id: open.trace_id,
            span_id: open.span_id,
            parent: open.parent,
            name: span.name(),
            client: span.name() == "request",
            start: open.start,
            end: now_nanos(),
            attributes: open.attributes,
        };
        if self.tx.try_send(finished).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One span in OTLP's JSON encoding (ids in hex, times as strings of nanoseconds).
fn encode_span(s: &Finished) -> Value {
    let attributes: Vec<Value> = s
        .attributes
        .iter()
        .map(|(k, v)| {
            let value = match v {
                Value::Bool(b) => json!({"boolValue": b}),
                Value::Number(n) if n.is_i64() || n.is_u64() => json!({"intValue": n.to_string()}),
                Value::Number(n) => json!({"doubleValue": n.as_f64()}),
                Value::String(text) => json!({"stringValue": text}),
                other => json!({"stringValue": other.to_string()}),
            };
            json!({"key": k, "value": value})
        })
        .collect();
    let mut span = json!({
        "traceId": hex(&s.trace_id),
        "spanId": hex(&s.span_id),
        "name": s.name,
        // SPAN_KIND_CLIENT for a call to an app, SPAN_KIND_INTERNAL otherwise.
        "kind": if s.client { 3 } else { 1 },
        "startTimeUnixNano": s.start.to_string(),
        "endTimeUnixNano": s.end.to_string(),
        "attributes": attributes,
    });
    if let Some(parent) = &s.parent {
        span["parentSpanId"] = json!(hex(parent));
    }
    span
}

/// The body of one export request.
fn encode(service: &str, spans: &[Finished]) -> Value {
    json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{
            "scope": {"name": "roster", "version": env!("CARGO_PKG_VERSION")},
            "spans": spans.iter().map(encode_span).collect::<Vec<_>>(),
        }],
    }]})
}

async fn export(
    config: OtlpConfig,
    mut rx: mpsc::Receiver<Finished>,
    mut flushes: mpsc::Receiver<tokio::sync::oneshot::Sender<()>>,
    dropped: Arc<AtomicU64>,
) {
    let url = format!("{}/v1/traces", config.endpoint.trim_end_matches('/'));
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "cannot make the OTLP client: no traces are exported");
            return;
        }
    };
    let mut pending: Vec<Finished> = Vec::new();
    let mut tick = tokio::time::interval(config.interval);
    loop {
        let mut waiter = None;
        tokio::select! {
            span = rx.recv() => match span {
                Some(span) => {
                    pending.push(span);
                    if pending.len() < BATCH {
                        continue;
                    }
                }
                None => {
                    post(&client, &url, &config.service_name, &mut pending, &dropped).await;
                    return;
                }
            },
            _ = tick.tick() => {}
            asked = flushes.recv() => {
                while let Ok(span) = rx.try_recv() {
                    pending.push(span);
                }
                waiter = asked;
            }
        }
        while !pending.is_empty() {
            post(&client, &url, &config.service_name, &mut pending, &dropped).await;
        }
        if let Some(w) = waiter {
            let _ = w.send(());
        }
    }
}

/// Posts up to a batch of `pending`; what the collector refuses is dropped, with a warning.
async fn post(client: &reqwest::Client, url: &str, service: &str, pending: &mut Vec<Finished>, dropped: &AtomicU64) {
    let take = pending.len().min(BATCH);
    let batch: Vec<Finished> = pending.drain(..take).collect();
    if batch.is_empty() {
        return;
    }
    let body = encode(service, &batch);
    let result = client.post(url).json(&body).send().await;
    let failure = match result {
        Ok(answer) if answer.status().is_success() => None,
        Ok(answer) => Some(format!("the collector answered HTTP {}", answer.status().as_u16())),
        Err(e) => Some(e.to_string()),
    };
    if let Some(why) = failure {
        dropped.fetch_add(batch.len() as u64, Ordering::Relaxed);
        // Not through `tracing`'s spans: an event only, which this layer ignores.
        tracing::warn!(spans = batch.len(), error = %why, "traces could not be exported; dropped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_is_encoded_as_otlp_json() {
        let s = Finished {
            trace_id: [1; 16],
            span_id: [2; 8],
            parent: Some([3; 8]),
            name: "request",
            client: true,
            start: 5,
            end: 9,
            attributes: vec![("app", json!("a1")), ("status", json!(201)), ("ok", json!(true))],
        };
        let body = encode("roster", &[s]);
        let span = &body["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(span["traceId"], "01".repeat(16));
        assert_eq!(span["spanId"], "02".repeat(8));
        assert_eq!(span["parentSpanId"], "03".repeat(8));
        assert_eq!(span["kind"], 3);
        assert_eq!(span["startTimeUnixNano"], "5");
        assert_eq!(span["attributes"][1], json!({"key": "status", "value": {"intValue": "201"}}));
        assert_eq!(body["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"], "roster");
    }
}
