//! The HTTPS listener: accepts TCP connections, runs each TLS handshake in its
//! own task, and hands axum only the connections whose handshake succeeded.
//!
//! A handshake is bounded in time and in number, so slow or broken clients can
//! neither stall the accept loop nor pile up; a failed one is logged and dropped,
//! and the server goes on. A client that speaks plain HTTP to the port gets a 400
//! that says to use https, rather than a reset it cannot explain.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// How long a client has to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; the accept loop waits beyond this.
const MAX_HANDSHAKES: usize = 256;
/// Handshaken connections waiting for axum to take them.
const READY_QUEUE: usize = 64;
/// The first byte of every TLS connection: a handshake record.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// A connection whose handshake succeeded, and its client's address.
type Handshaken = (TlsStream<TcpStream>, SocketAddr);

/// A listener of TLS connections for `axum::serve`. Its accept loop ends when it
/// is dropped (axum drops it at shutdown), which closes the port.
pub(crate) struct TlsListener {
    ready: mpsc::Receiver<Handshaken>,
    local_addr: SocketAddr,
}

impl TlsListener {
    /// Accepts on `tcp`, presenting the certificate `config` resolves.
    pub(crate) fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> io::Result<TlsListener> {
        let local_addr = tcp.local_addr()?;
        let (sender, ready) = mpsc::channel(READY_QUEUE);
        tokio::spawn(accept_loop(tcp, TlsAcceptor::from(config), sender));
        Ok(TlsListener { ready, local_addr })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> Handshaken {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accept loop only stops once this listener is gone, so this is
            // reached only if it panicked: accept nothing rather than spin.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local_addr)
    }
}

async fn accept_loop(tcp: TcpListener, acceptor: TlsAcceptor, ready: mpsc::Sender<Handshaken>) {
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let permit = tokio::select! {
            _ = ready.closed() => return,
            permit = handshakes.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = ready.closed() => return,
            accepted = tcp.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    pause_after_accept_error(e).await;
                    continue;
                }
            },
        };
        let (acceptor, ready) = (acceptor.clone(), ready.clone());
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&acceptor, stream)).await {
                Ok(Ok(Some(tls))) => {
                    // A send fails only when the server is shutting down.
                    let _ = ready.send((tls, peer)).await;
                }
                Ok(Ok(None)) => {}
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

/// The TLS handshake on `stream`, or `None` when the client closed at once or
/// spoke plain HTTP (and was told to use https).
async fn handshake(acceptor: &TlsAcceptor, stream: TcpStream) -> io::Result<Option<TlsStream<TcpStream>>> {
    let mut first = [0u8; 1];
    if stream.peek(&mut first).await? == 0 {
        return Ok(None);
    }
    if first[0] != TLS_HANDSHAKE_RECORD {
        refuse_plain_text(stream).await;
        return Ok(None);
    }
    acceptor.accept(stream).await.map(Some)
}

/// Answers a plain-HTTP request with a 400 that says to use https.
async fn refuse_plain_text(mut stream: TcpStream) {
    // Read what the client sent first: closing a socket with unread input resets
    // the connection, and the client could lose the answer.
    let mut request = [0u8; 8192];
    let _ = stream.read(&mut request).await;
    let body = "roster serves HTTPS on this port: use an https:// URL.\n";
    let answer = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Waits a little after an accept error that is not one client's problem (too
/// many open files, say), so the loop does not spin while it lasts.
async fn pause_after_accept_error(e: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::error!(error = %e, "cannot accept a connection");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
