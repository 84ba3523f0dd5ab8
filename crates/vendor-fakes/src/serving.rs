//! One fake serving a router on a port until it is stopped (graceful: requests
//! in flight finish) or dropped.

use axum::Router;
use std::io;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A router being served.
#[derive(Debug)]
pub(crate) struct Serving {
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl Serving {
    /// Serves `router` on `listener` in a task of its own.
    pub(crate) fn spawn(listener: TcpListener, router: Router) -> Serving {
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
        });
        Serving { shutdown: Some(tx), task: Some(task) }
    }

    /// Stops serving and waits.
    pub(crate) async fn stop(mut self) -> io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
