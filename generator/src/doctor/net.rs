//! The doctor's network code: blocking HTTP requests with a client's headers, JSON-RPC
//! answers read from JSON or SSE bodies (with when each part arrived), and the loopback
//! listener that receives an authorization redirect.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Most bytes read from one response; the rest is dropped.
pub const BODY_LIMIT: u64 = 4 * 1024 * 1024;

/// An HTTP answer, read whole (or its first 4 MiB).
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Header names (lowercase) and values.
    pub headers: Vec<(String, String)>,
    /// The body, lossily decoded as UTF-8.
    pub body: String,
    /// For a `text/event-stream` body: the SSE timing seen while reading it.
    pub sse: Option<SseTiming>,
}

/// When the parts of an SSE body arrived, relative to the response headers.
#[derive(Debug, Clone, Copy)]
pub struct SseTiming {
    /// Events and comments in the stream.
    pub events: usize,
    /// When the first event or comment was complete.
    pub first: Duration,
    /// When the last one was complete.
    pub last: Duration,
}

impl SseTiming {
    /// Whether the stream looks held back by a buffering proxy: several events that all
    /// arrived at once, well after the headers (an unbuffered stream delivers its first
    /// event or keep-alive when the server writes it).
    pub fn buffered(&self) -> bool {
        self.events >= 2
            && self.last >= Duration::from_millis(200)
            && self.last - self.first < self.last / 10
    }
}

impl Reply {
    /// A header's value, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, if it is JSON. For an SSE body, the first `data:` that is a JSON-RPC
    /// response.
    pub fn json(&self) -> Option<Value> {
        if self.sse.is_some() {
            return sse_messages(&self.body)
                .into_iter()
                .find(|m| m.get("result").is_some() || m.get("error").is_some());
        }
        serde_json::from_str(&self.body).ok()
    }
}

/// The JSON messages in the `data:` fields of an SSE body (one event's data lines joined).
pub fn sse_messages(body: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for event in body.replace("\r\n", "\n").split("\n\n") {
        let data: Vec<&str> = event
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(|d| d.strip_prefix(' ').unwrap_or(d))
            .collect();
        if let Ok(v) = serde_json::from_str(&data.join("\n")) {
            out.push(v);
        }
    }
    out
}

/// A failed request: the server could not be reached or did not answer in time.
#[derive(Debug)]
pub struct Unreachable(pub String);

/// The doctor's HTTP client: no redirects followed, statuses are answers, not errors.
#[derive(Clone)]
pub struct Http {
    agent: ureq::Agent,
}

/// A request to send: method, URL, headers and body.
pub struct Request<'a> {
    /// `GET` or `POST`.
    pub method: &'a str,
    /// Absolute URL.
    pub url: &'a str,
    /// Headers to send (a `User-Agent` among them).
    pub headers: Vec<(&'a str, String)>,
    /// Body bytes for `POST`.
    pub body: Option<String>,
}

impl Http {
    /// A client whose every request gives up after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(timeout))
            .user_agent("")
            .build()
            .into();
        Http { agent }
    }

    /// Sends a request and reads the answer.
    pub fn send(&self, req: Request<'_>) -> Result<Reply, Unreachable> {
        let fail = |e: ureq::Error| Unreachable(format!("{} {}: {e}", req.method, req.url));
        let sent = if req.method == "POST" {
            let mut b = self.agent.post(req.url);
            for (k, v) in &req.headers {
                b = b.header(*k, v);
            }
            b.send(req.body.clone().unwrap_or_default())
        } else {
            let mut b = self.agent.get(req.url);
            for (k, v) in &req.headers {
                b = b.header(*k, v);
            }
            b.call()
        };
        let response = sent.map_err(fail)?;
        let start = Instant::now();
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let is_sse = headers.iter().any(|(k, v)| {
            k == "content-type" && v.to_ascii_lowercase().starts_with("text/event-stream")
        });
        let reader = response.into_body().into_reader().take(BODY_LIMIT);
        let (body, sse) = if is_sse {
            read_sse(reader, start).map_err(|e| Unreachable(format!("{}: {e}", req.url)))?
        } else {
            let mut bytes = Vec::new();
            BufReader::new(reader)
                .read_to_end(&mut bytes)
                .map_err(|e| Unreachable(format!("{}: {e}", req.url)))?;
            (String::from_utf8_lossy(&bytes).into_owned(), None)
        };
        Ok(Reply {
            status,
            headers,
            body,
            sse,
        })
    }
}

/// Reads an SSE body line by line, noting when each event or comment was complete; stops after
/// the first event that carries a JSON-RPC response, as a client does.
fn read_sse(reader: impl Read, start: Instant) -> std::io::Result<(String, Option<SseTiming>)> {
    let mut body = String::new();
    let mut timing = SseTiming {
        events: 0,
        first: Duration::ZERO,
        last: Duration::ZERO,
    };
    let mut pending = String::new();
    let mut lines = BufReader::new(reader);
    let mut bytes = Vec::new();
    loop {
        // Decoded leniently, as clients do (a byte that is not UTF-8 is U+FFFD).
        bytes.clear();
        if lines.read_until(b'\n', &mut bytes)? == 0 {
            break;
        }
        let line = String::from_utf8_lossy(&bytes);
        body.push_str(&line);
        let trimmed = line.trim_end_matches(['\r', '\n']);
        if trimmed.starts_with(':') || trimmed.is_empty() {
            if trimmed.starts_with(':') || !pending.is_empty() {
                let at = start.elapsed();
                if timing.events == 0 {
                    timing.first = at;
                }
                timing.last = at;
                timing.events += 1;
            }
            if trimmed.is_empty() && !pending.is_empty() {
                let done = sse_messages(&pending)
                    .iter()
                    .any(|m| m.get("result").is_some() || m.get("error").is_some());
                pending.clear();
                if done {
                    break;
                }
            }
        } else {
            pending.push_str(&line);
        }
    }
    Ok((body, Some(timing)))
}

/// A loopback listener for the authorization redirect (RFC 8252 §7.3).
pub struct Callback {
    listener: TcpListener,
    /// The port it listens on.
    pub port: u16,
}

impl Callback {
    /// Listens on `127.0.0.1` at a free port.
    pub fn bind() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        Ok(Callback { listener, port })
    }

    /// Waits up to `wait` for one request, answers it with a short page, and returns its
    /// request target (path and query).
    pub fn wait(self, wait: Duration) -> Option<String> {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in self.listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let mut first = String::new();
                let mut reader = BufReader::new(&stream).take(8192);
                if reader.read_line(&mut first).is_err() {
                    continue;
                }
                let target = first.split(' ').nth(1).unwrap_or("").to_string();
                if !target.contains("code=") && !target.contains("error=") {
                    let _ = stream.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                    continue;
                }
                let page =
                    "mcpgen doctor received the authorization response; you can close this tab.";
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = tx.send(target);
                return;
            }
        });
        rx.recv_timeout(wait).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_data_lines_are_read_as_messages() {
        let body =
            ": ping\n\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n";
        let msgs = sse_messages(body);
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0]["id"], 1);
    }

    #[test]
    fn a_burst_at_the_end_is_buffered_and_a_spread_stream_is_not() {
        let burst = SseTiming {
            events: 2,
            first: Duration::from_millis(500),
            last: Duration::from_millis(501),
        };
        assert!(burst.buffered());
        let spread = SseTiming {
            events: 2,
            first: Duration::from_millis(1),
            last: Duration::from_millis(500),
        };
        assert!(!spread.buffered());
        let single = SseTiming {
            events: 1,
            first: Duration::from_millis(500),
            last: Duration::from_millis(500),
        };
        assert!(!single.buffered());
    }
}
