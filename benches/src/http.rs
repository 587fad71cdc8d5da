//! A minimal HTTP/1.1 keep-alive client for POSTs, as vzlogger's curl sends them, so that a
//! client library's overhead does not eat into the 2 cores the server under test also needs.
//! It understands `Content-Length` and chunked responses and reconnects after `Connection: close`.

use std::io;
use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Where to POST: the resolved address, the `Host` header and the path.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The server address.
    pub addr: SocketAddr,
    /// `host:port` as given, for the `Host` header.
    pub host: String,
    /// The path including any query; `/` when the URL had none.
    pub path: String,
}

impl Endpoint {
    /// Parses `http://host:port/path` (or `ws://…`, for the WebSocket side) and resolves the host.
    ///
    /// # Errors
    /// Not an `http`/`ws` URL, or the host does not resolve.
    pub async fn parse(url: &str) -> anyhow::Result<Endpoint> {
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("ws://"))
            .ok_or_else(|| anyhow::anyhow!("{url}: only http:// and ws:// URLs are supported"))?;
        let (host, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let with_port = if host
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            host.to_owned()
        } else {
            format!("{host}:80")
        };
        let addr = tokio::net::lookup_host(&with_port)
            .await?
            .next()
            .ok_or_else(|| anyhow::anyhow!("{host} does not resolve"))?;
        Ok(Endpoint {
            addr,
            host: host.to_owned(),
            path: path.to_owned(),
        })
    }
}

/// Opens a TCP connection to `addr`, from `source` when given (a 127.0.0.x address spreads
/// connections over more ephemeral ports than one source address has).
///
/// # Errors
/// Binding or connecting fails.
pub async fn connect(addr: SocketAddr, source: Option<IpAddr>) -> io::Result<TcpStream> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(source) = source {
        socket.bind(SocketAddr::new(source, 0))?;
    }
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// One keep-alive connection.
pub struct Connection {
    stream: TcpStream,
    /// Bytes read but not yet consumed.
    buf: Vec<u8>,
    /// Set when the server announced `Connection: close`.
    closing: bool,
}

/// The parts of a response the load generator looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// The body length.
    pub body_len: usize,
}

impl Connection {
    /// Connects to `endpoint`.
    ///
    /// # Errors
    /// Connecting fails.
    pub async fn open(endpoint: &Endpoint) -> io::Result<Connection> {
        Ok(Connection {
            stream: connect(endpoint.addr, None).await?,
            buf: Vec::with_capacity(4096),
            closing: false,
        })
    }

    /// Whether the server asked to close; the caller opens a new connection.
    pub fn is_closing(&self) -> bool {
        self.closing
    }

    /// POSTs `body` (JSON) to `path` and reads the whole response.
    ///
    /// # Errors
    /// An I/O error, or a response that is not HTTP/1.x.
    pub async fn post(&mut self, host: &str, path: &str, body: &[u8]) -> io::Result<Response> {
        let mut request = Vec::with_capacity(160 + body.len());
        request.extend_from_slice(
            format!(
                "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
                 Accept: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        );
        request.extend_from_slice(body);
        self.stream.write_all(&request).await?;
        self.read_response().await
    }

    async fn read_response(&mut self) -> io::Result<Response> {
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await?;
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        let status = head
            .strip_prefix("HTTP/1.")
            .and_then(|rest| rest.get(2..5))
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| invalid("not an HTTP/1.x response"))?;
        let mut content_length = None;
        let mut chunked = false;
        for line in head.lines().skip(1) {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                content_length = value.parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            } else if name.eq_ignore_ascii_case("connection") {
                self.closing = value.eq_ignore_ascii_case("close");
            }
        }
        self.buf.drain(..head_end);
        let body_len = if chunked {
            self.skip_chunked().await?
        } else {
            let len = content_length.unwrap_or(0);
            while self.buf.len() < len {
                self.fill().await?;
            }
            self.buf.drain(..len);
            len
        };
        Ok(Response { status, body_len })
    }

    async fn skip_chunked(&mut self) -> io::Result<usize> {
        let mut total = 0;
        loop {
            let line_end = loop {
                if let Some(i) = find(&self.buf, b"\r\n") {
                    break i;
                }
                self.fill().await?;
            };
            let size_text = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| invalid("bad chunk size"))?;
            self.buf.drain(..line_end + 2);
            if size == 0 {
                // No trailers from the servers we test: the final CRLF follows.
                while self.buf.len() < 2 {
                    self.fill().await?;
                }
                self.buf.drain(..2);
                return Ok(total);
            }
            while self.buf.len() < size + 2 {
                self.fill().await?;
            }
            self.buf.drain(..size + 2);
            total += size;
        }
    }

    async fn fill(&mut self) -> io::Result<()> {
        self.buf.reserve(4096);
        if self.stream.read_buf(&mut self.buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn reads_length_and_chunked_responses_on_one_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            let mut buf = [0_u8; 1024];
            while find(&seen, b"}").is_none() {
                let n = socket.read(&mut buf).await.unwrap();
                seen.extend_from_slice(&buf[..n]);
            }
            socket
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .await
                .unwrap();
            socket
                .write_all(b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
                .await
                .unwrap();
            socket
                .write_all(
                    b"HTTP/1.1 201 Created\r\nConnection: close\r\ncontent-length: 0\r\n\r\n",
                )
                .await
                .unwrap();
            // Keep the socket open until the client has read everything.
            let _ = socket.read(&mut buf).await;
            String::from_utf8(seen).unwrap()
        });
        let endpoint = Endpoint::parse(&format!("http://{addr}")).await.unwrap();
        assert_eq!(endpoint.path, "/");
        let mut conn = Connection::open(&endpoint).await.unwrap();
        let first = conn.post(&endpoint.host, "/", b"{}").await.unwrap();
        assert_eq!(
            first,
            Response {
                status: 200,
                body_len: 2
            }
        );
        let second = conn.read_response().await.unwrap();
        assert_eq!(
            second,
            Response {
                status: 202,
                body_len: 3
            }
        );
        let third = conn.read_response().await.unwrap();
        assert_eq!(third.status, 201);
        assert!(conn.is_closing());
        drop(conn);
        let request = server.await.unwrap();
        assert!(
            request.starts_with("POST / HTTP/1.1\r\nHost: 127.0.0.1:"),
            "{request}"
        );
        assert!(request.contains("Content-Length: 2\r\n\r\n{}"), "{request}");
    }
}
