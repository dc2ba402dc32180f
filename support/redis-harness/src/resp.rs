//! A minimal blocking RESP2 client: one command per connection.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// A Redis reply (RESP2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`, `+PONG`: a simple string.
    Simple(String),
    /// `-ERR ...`: an error reply (its text without the `-`).
    Error(String),
    /// `:42`: an integer.
    Integer(i64),
    /// `$3\r\nabc`: a bulk string.
    Bulk(Vec<u8>),
    /// `$-1` or `*-1`: nil.
    Nil,
    /// `*2\r\n...`: an array of replies.
    Array(Vec<Reply>),
}

impl Reply {
    /// The text of a simple or bulk string (bulk bytes must be UTF-8).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Reply::Simple(s) => Some(s),
            Reply::Bulk(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }
}

/// Sends one command (e.g. `&["SET", "k", "v"]`) to the Redis on
/// `127.0.0.1:port` over a new TCP connection and returns its reply. An
/// error reply is `Ok(Reply::Error(..))`; `Err` means the connection or the
/// protocol failed (5 s timeouts). Cluster redirections (`MOVED`) are not
/// followed.
pub fn command<A: AsRef<[u8]>>(port: u16, args: &[A]) -> io::Result<Reply> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut request = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        let arg = arg.as_ref();
        request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        request.extend_from_slice(arg);
        request.extend_from_slice(b"\r\n");
    }
    (&stream).write_all(&request)?;
    read_reply(&mut BufReader::new(stream))
}

fn read_reply(r: &mut impl BufRead) -> io::Result<Reply> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed before a reply",
        ));
    }
    let line = line
        .strip_suffix("\r\n")
        .ok_or_else(|| bad(format!("reply line without CRLF: {line:?}")))?;
    let (kind, rest) = line
        .split_at_checked(1)
        .ok_or_else(|| bad("empty reply line"))?;
    let number = || {
        rest.parse::<i64>()
            .map_err(|_| bad(format!("bad number {rest:?}")))
    };
    Ok(match kind {
        "+" => Reply::Simple(rest.to_owned()),
        "-" => Reply::Error(rest.to_owned()),
        ":" => Reply::Integer(number()?),
        "$" => match usize::try_from(number()?) {
            Err(_) => Reply::Nil,
            Ok(len) => {
                let mut buf = vec![0; len + 2];
                r.read_exact(&mut buf)?;
                buf.truncate(len);
                Reply::Bulk(buf)
            }
        },
        "*" => match usize::try_from(number()?) {
            Err(_) => Reply::Nil,
            Ok(len) => Reply::Array((0..len).map(|_| read_reply(r)).collect::<io::Result<_>>()?),
        },
        _ => return Err(bad(format!("unknown reply type {line:?}"))),
    })
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_reply_type() {
        let wire = b"*6\r\n+OK\r\n-ERR no\r\n:-7\r\n$3\r\na\r\n\r\n$-1\r\n*-1\r\n";
        let reply = read_reply(&mut &wire[..]).unwrap();
        assert_eq!(
            reply,
            Reply::Array(vec![
                Reply::Simple("OK".into()),
                Reply::Error("ERR no".into()),
                Reply::Integer(-7),
                Reply::Bulk(b"a\r\n".to_vec()),
                Reply::Nil,
                Reply::Nil,
            ])
        );
    }
}
