//! Raw HTTP/1.1 over a TCP socket, for requests reqwest will not build
//! (non-ASCII header bytes) and for oversized bodies where the server may
//! answer before the body is fully sent.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug)]
pub struct RawResp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResp {
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Send `head` (request line + headers, without the final blank line; a
/// `Connection: close` header is added) and `body`; read the response until
/// the server closes or the declared length is read. The body is written
/// concurrently with reading, and write errors are ignored (the server may
/// answer early and close).
pub async fn request(port: u16, head: &[u8], body: &[u8]) -> Result<RawResp, String> {
    let stream = tokio::time::timeout(
        Duration::from_secs(5),
        TcpStream::connect(("127.0.0.1", port)),
    )
    .await
    .map_err(|_| "connect timed out".to_string())?
    .map_err(|e| format!("connect: {e}"))?;
    let (mut rd, mut wr) = stream.into_split();
    let mut msg = head.to_vec();
    msg.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
    let body = body.to_vec();
    let writer = tokio::spawn(async move {
        if wr.write_all(&msg).await.is_err() {
            return wr;
        }
        for chunk in body.chunks(64 * 1024) {
            if wr.write_all(chunk).await.is_err() {
                break;
            }
        }
        let _ = wr.flush().await;
        wr
    });
    let mut buf = Vec::new();
    let mut tmp = vec![0u8; 64 * 1024];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut read_err = None;
    loop {
        if let Some(resp) = try_parse(&buf) {
            writer.abort();
            return Ok(resp);
        }
        match tokio::time::timeout_at(deadline, rd.read(&mut tmp)).await {
            Err(_) => {
                writer.abort();
                return Err(format!(
                    "timed out reading the response; got {} bytes: {:?}",
                    buf.len(),
                    String::from_utf8_lossy(&buf[..buf.len().min(300)])
                ));
            }
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => buf.extend_from_slice(&tmp[..n]),
            Ok(Err(e)) => {
                read_err = Some(e);
                break;
            }
        }
    }
    writer.abort();
    // EOF or error: parse what we have (a response without a length ends at
    // close).
    match parse_head(&buf) {
        Some((status, headers, body_start)) => Ok(RawResp {
            status,
            headers,
            body: buf[body_start..].to_vec(),
        }),
        None => Err(format!(
            "no complete response ({} bytes, error {:?})",
            buf.len(),
            read_err
        )),
    }
}

/// Status, headers and the body's offset of a raw HTTP/1.1 response.
type Head = (u16, Vec<(String, String)>, usize);

fn parse_head(buf: &[u8]) -> Option<Head> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status: u16 = status_line.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Some((status, headers, end + 4))
}

/// A complete response when it has a Content-Length and that many bytes, or
/// a finished chunked body.
fn try_parse(buf: &[u8]) -> Option<RawResp> {
    let (status, headers, start) = parse_head(buf)?;
    if (100..200).contains(&status) {
        // skip interim responses (e.g. 100 Continue)
        return try_parse(&buf[start..]);
    }
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        if buf.len() >= start + len {
            return Some(RawResp {
                status,
                headers,
                body: buf[start..start + len].to_vec(),
            });
        }
        return None;
    }
    if get("transfer-encoding")
        .map(|v| v.to_ascii_lowercase().contains("chunked"))
        .unwrap_or(false)
    {
        let mut body = Vec::new();
        let mut i = start;
        loop {
            let rel = buf[i..].windows(2).position(|w| w == b"\r\n")?;
            let size_line = String::from_utf8_lossy(&buf[i..i + rel]).into_owned();
            let size = usize::from_str_radix(size_line.split(';').next()?.trim(), 16).ok()?;
            i += rel + 2;
            if size == 0 {
                return Some(RawResp {
                    status,
                    headers,
                    body,
                });
            }
            if buf.len() < i + size + 2 {
                return None;
            }
            body.extend_from_slice(&buf[i..i + size]);
            i += size + 2;
        }
    }
    if status == 204 || status == 304 {
        return Some(RawResp {
            status,
            headers,
            body: Vec::new(),
        });
    }
    None
}
