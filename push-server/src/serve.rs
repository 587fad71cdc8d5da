//! Serving HTTP (and WebSocket upgrades) on one listener within limits a stranger cannot
//! exceed.
//!
//! `axum::serve` accepts without bound and lets a connection that never sends a byte live
//! forever, so 20,000 idle sockets exhaust the process's file descriptors. Here every listener
//! has a connection cap (a semaphore permit travels with the socket, through a WebSocket
//! upgrade, until it closes; at the cap, new connections wait in the kernel's backlog) and a
//! header-read timeout that also ends idle keep-alive connections and slowloris clients.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Limits of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections served at once (including upgraded WebSockets); more wait in the backlog.
    pub max_connections: usize,
    /// Time a client has to send a complete request head, counted from the connection's start
    /// or the end of the previous response, so it is also the keep-alive idle timeout.
    pub header_timeout: Duration,
    /// How long shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
}

/// Per-listener counters, shared with the metrics registry.
#[derive(Debug, Clone, Default)]
pub struct ListenerStats {
    /// Connections open now.
    pub open: Gauge,
    /// Connections accepted since start.
    pub accepted: Counter,
}

/// Serves `router` on `listener` until `shutdown` is cancelled, then stops accepting and
/// waits up to the grace period for requests in flight. Accept errors (out of file
/// descriptors, a connection reset before accept) are logged and retried, never fatal.
///
/// # Errors
/// None today; the signature leaves room for listener errors that must end the server.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    stats: ListenerStats,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // HTTP/1.1 only: vzlogger (curl) and browsers' ws:// use it, and protocol detection for
    // HTTP/2 would read the first bytes without any timeout.
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let connections = TaskTracker::new();
    let mut accept_errors = 0u64;
    loop {
        let permit = tokio::select! {
            () = shutdown.cancelled() => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break,
            },
        };
        let (stream, _peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_errors += 1;
                    if accept_errors.is_power_of_two() {
                        tracing::warn!(error = %err, count = accept_errors, "accept failed; retrying");
                    }
                    // EMFILE and friends do not clear at once; do not spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        stats.accepted.inc();
        let io = TokioIo::new(Counted::new(stream, permit, stats.open.clone()));
        let service = TowerToHyperService::new(router.clone());
        let connection = builder.serve_connection(io, service).with_upgrades();
        let stop = shutdown.clone();
        connections.spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = stop.cancelled() => {
                    // Finish the request in flight, then close; idle connections close now.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            // Protocol errors and timeouts end the connection; they are the client's problem.
            if let Err(err) = result {
                tracing::trace!(error = %err, "connection ended with an error");
            }
        });
    }
    drop(listener);
    connections.close();
    if tokio::time::timeout(limits.shutdown_grace, connections.wait())
        .await
        .is_err()
    {
        tracing::debug!("requests still in flight after the shutdown grace period");
    }
    Ok(())
}

/// A socket holding its listener's permit and counted as open until dropped, including after
/// hyper hands it to a WebSocket session.
struct Counted {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    open: Gauge,
}

impl Counted {
    fn new(stream: TcpStream, permit: OwnedSemaphorePermit, open: Gauge) -> Counted {
        open.inc();
        Counted {
            stream,
            _permit: permit,
            open,
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.open.dec();
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
